package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/config"
)

// siteWith is a one-site config holding the YAML lines given under the site.
func siteWith(lines string) string {
	return "sites:\n  - id: s\n    write_key: k\n    admin_token: 0123456789abcdef\n    feed_token: 0123456789abcdef-feed\n" + lines
}

// refused parses yaml and wants an error naming field.
func refused(t *testing.T, name, yaml, field string) {
	t.Helper()
	_, err := config.Parse([]byte(yaml), nil)
	if err == nil || !strings.Contains(err.Error(), field) {
		t.Errorf("%s: error %v, want one naming %s", name, err, field)
	}
}

// YAML can write numbers JSON cannot: a min_score of .nan or .inf loaded
// and selected nobody.
func TestMinScoreMustBeFinite(t *testing.T) {
	for _, v := range []string{".nan", ".inf", "-.inf"} {
		refused(t, "min_score "+v, siteWith("    audiences:\n      - {name: a, strategy: upsell, include: [{min_score: "+v+"}]}\n"), "include[0].min_score")
	}
	if _, err := config.Parse([]byte(siteWith("    audiences:\n      - {name: a, strategy: upsell, include: [{min_score: 2.5}]}\n")), nil); err != nil {
		t.Fatal(err)
	}
}

// A visitor without a trait reads as "": "traits: {vip: }" (YAML's null)
// or an empty string selected every visitor who is not a VIP.
func TestTraitValuesMustNotBeEmpty(t *testing.T) {
	refused(t, "null trait", siteWith("    audiences:\n      - name: a\n        strategy: upsell\n        include:\n          - traits: {vip: }\n"), "include[0].traits.vip")
	refused(t, "empty trait", siteWith("    audiences:\n      - {name: a, strategy: upsell, exclude: [{traits: {b2b: ''}}], include: [{events: [purchase]}]}\n"), "exclude[0].traits.b2b")
}

// A discount under a minute never opens (windows are whole minutes).
func TestDiscountsShorterThanAMinuteAreRefused(t *testing.T) {
	refused(t, "30s discount", siteWith("    discounts:\n      - {percent: 10, duration: 30s}\n"), "discounts[0]: duration 30s")
	if _, err := config.Parse([]byte(siteWith("    discounts:\n      - {percent: 10, duration: 1m}\n")), nil); err != nil {
		t.Fatal(err)
	}
}

// Of two YAML rules with one selector the later never applies.
func TestDiscountsWithOneSelectorAreRefused(t *testing.T) {
	refused(t, "two rules", siteWith("    discounts:\n      - {percent: 10, duration: 30h}\n      - {percent: 20, duration: 30h}\n"), "discounts[1]: same audience, motivation and strategy as discounts[0]")
}

// A run evaluates every events condition of a site in one statement.
func TestASitesEventConditionsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("    audiences:\n")
	for a := range 5 {
		fmt.Fprintf(&b, "      - name: a%d\n        strategy: upsell\n        include:\n", a)
		for range 52 {
			b.WriteString("          - {events: [product_view]}\n")
		}
	}
	refused(t, "260 conditions", siteWith(b.String()), "sites[0].audiences: 260 events conditions in all, at most 256")
}
