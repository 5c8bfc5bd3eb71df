package segment

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/remarket/remarket/internal/config"
)

// templatesYAML are the built-in audiences, from the seed's advice: upsell
// while the interest is fresh, remind cart abandoners with a time-limited
// offer, cross-sell a few weeks after a purchase, keep enthusiasts and
// professionals apart, win back the lapsed. `remarket init` writes them
// into the starter config, where they can be edited.
const templatesYAML = `    audiences:
      - name: viewed_not_bought
        description: Viewed a product in the last 3 days and bought nothing since; show upgrades now.
        strategy: upsell
        window: 3d
        include:
          - events: [product_view]
            since: 3d
        exclude:
          - events: [purchase]
            since: 3d
      - name: cart_abandoners
        description: Carted 1 to 7 days ago and not bought; remind them, with a time-limited discount.
        strategy: reminder
        window: 7d
        include:
          - stage: carted
            since: 7d
            until: 1d
      - name: recent_buyers
        description: Bought 14 to 45 days ago; time for a cross-sell that goes with it.
        strategy: cross_sell
        window: 45d
        include:
          - events: [purchase]
            since: 45d
            until: 14d
        exclude:
          - events: [purchase]
            since: 14d
      - name: category_enthusiasts
        description: Strong, repeated interest in a category over the last 30 days.
        strategy: upsell
        window: 30d
        include:
          - min_score: 8
          - events: [product_view]
            since: 30d
            min_count: 5
      - name: lapsed_customers
        description: Bought before, but no visit in the last 90 days; win them back.
        strategy: winback
        include:
          - events: [purchase]
            until: 90d
        exclude:
          - events: [page_view, product_view, product_list_view, add_to_cart, checkout, purchase]
            since: 90d
      - name: professional_buyers
        description: Professional buyers (trait customer_type or bulk orders) active in the last 90 days.
        strategy: cross_sell
        window: 90d
        include:
          - customer_type: professional
          - events: [product_view, add_to_cart, purchase]
            since: 90d
`

// Templates returns the built-in audience definitions.
func Templates() []config.Audience {
	var doc struct {
		Audiences []config.Audience `yaml:"audiences"`
	}
	dec := yaml.NewDecoder(strings.NewReader(templatesYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		panic("segment: built-in templates do not parse: " + err.Error())
	}
	return doc.Audiences
}

// StarterSection is the audiences block `remarket init` appends to a site.
func StarterSection(string) string {
	return "    # Audiences: who to re-market to and how (see docs/analytics.md).\n" + templatesYAML
}

func init() {
	config.StarterSections = append(config.StarterSections, StarterSection)
}
