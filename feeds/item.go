package feeds

import (
	"hash/maphash"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/remarket/remarket/internal/config"
)

// Row is one entry of an audience's product list joined with its catalog
// entry: what the feed query yields.
type Row struct {
	ProductID, AnchorID, AnchorTitle  string
	Strategy, Reason, Motivation      string
	Rank                              uint32
	Title, Description, Link, Image   string
	Price                             float64
	Currency, Availability, Condition string
	Brand, GTIN, MPN                  string
	Category, GoogleCategory, GroupID string
	AvailabilityDate                  time.Time // 1970-01-01 when unknown
}

// Item is a row made valid for every format: clean, bounded text, a
// price in minor units, normalised links and vocabularies.
type Item struct {
	ID, Title, Description string
	Link, Image            string // Link carries UTM parameters and the offer token
	Price                  Money
	Sale                   Money // zero unless a discount is active
	SaleWindow             Window
	Availability           string    // Google vocabulary: in_stock, out_of_stock, preorder, backorder
	AvailabilityDate       time.Time // set for preorder and backorder items only
	Condition              string    // new, refurbished, used
	Brand, GTIN, MPN       string
	ProductType            string // the catalog's category path
	GoogleCategory         string
	GroupID                string
	Labels                 [5]string // audience, strategy, reason, offer text, motivation
	OfferToken             string
	OfferExpires           time.Time

	// identifiersLeftOut: the catalog's gtin or mpn could not be written
	// (identifier), so the item is not declared to have none.
	identifiersLeftOut bool
}

// Identifier limits of the Google spec, in characters (maxID for the id).
const (
	maxMPN     = 70
	maxGroupID = 50
)

// identifier is an identifier (id, mpn, item_group_id) exactly as the
// catalog has it, or "" when it is longer than max or cleaning would
// change it. It is never cut or rewritten: that would make it another
// identifier — another product's id, or two variant groups merged into
// one — so it is left out instead.
func identifier(s string, max int) string {
	if cleanText(s) != s || utf8.RuneCountInString(s) > max {
		return ""
	}
	return s
}

// gtin is s when it is a GTIN-8, -12 (UPC), -13 (EAN) or -14, all digits,
// else "": a GTIN of another form matches no product.
func gtin(s string) string {
	switch len(s) {
	case 8, 12, 13, 14:
	default:
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return ""
		}
	}
	return s
}

// HasSale reports whether the item carries a sale price.
func (it *Item) HasSale() bool { return it.Sale.Minor > 0 }

var idSeed = maphash.MakeSeed()

// Skip reasons: why a product was left out of a feed (a metric label).
const (
	SkipBadID        = "bad_id"
	SkipDuplicate    = "duplicate_id"
	SkipNoTitle      = "no_title"
	SkipNoPrice      = "no_price"
	SkipBadCurrency  = "bad_currency"
	SkipBadLink      = "bad_link"
	SkipNoImage      = "no_image"
	SkipAvailability = "bad_availability"
	SkipCondition    = "bad_condition"
	// SkipNoAvailabilityDate: a preorder or backorder item without the
	// availability_date Google requires for them.
	SkipNoAvailabilityDate = "no_availability_date"
	// SkipFarAvailabilityDate: a preorder or backorder item available more
	// than a year ahead; Google takes dates "up to 1 year in the future".
	SkipFarAvailabilityDate = "availability_date_too_far"
)

// Builder turns rows into items for one feed: one site, audience and run.
type Builder struct {
	Site     config.Site
	Audience string
	Now      time.Time
	// RunFinished is when the rows' segment run finished: availability
	// dates are bounded from it (availabilityHorizon).
	RunFinished time.Time
	Rules       []config.DiscountRule // effective rules (admin over YAML)
	// Windows is the offer window of each product id (resolveWindows);
	// a product without one has no offer.
	Windows    map[string]Window
	UTMSource  string
	UTMMedium  string
	OfferParam string

	loc      *time.Location
	signer   *signer
	ruleKeys map[int]string // ruleKey of Rules[i], computed once per feed
	// seen holds a 64-bit hash per written id (8 bytes an item, not the
	// ids): a collision would leave an item out, never repeat an id. The
	// id is hashed lower-cased: Google takes ids that differ only in case
	// ("abc123", "ABC123") for one product, so the later one is a
	// duplicate.
	seen map[uint64]struct{}
}

// Build makes row an item, or says why it cannot be made valid.
func (b *Builder) Build(r *Row) (Item, string) {
	if b.seen == nil {
		b.seen = map[uint64]struct{}{}
		b.loc = b.Site.Location()
		b.signer = newSigner(b.Site.OfferKeys)
	}
	var it Item
	// The id is matched against the pixel's and purchases' product ids and
	// signed into offer tokens, so it is written exactly or not at all:
	// one that cleaning would change ("SKU  12", a no-break space) or too
	// long is left out, never rewritten or cut (identifier).
	if it.ID = identifier(r.ProductID, maxID); it.ID == "" {
		return it, SkipBadID
	}
	idHash := maphash.String(idSeed, strings.ToLower(it.ID))
	if _, dup := b.seen[idHash]; dup {
		return it, SkipDuplicate
	}
	if it.Title = fitText(r.Title, maxTitle); it.Title == "" {
		return it, SkipNoTitle
	}
	it.Description = fitText(stripHTML(r.Description), maxDescription)
	if it.Description == "" {
		it.Description = it.Title // Meta requires one
	}
	cur := strings.ToUpper(strings.TrimSpace(r.Currency))
	if !validCurrency(cur) {
		return it, SkipBadCurrency
	}
	var ok bool
	if it.Price, ok = moneyOf(r.Price, cur); !ok {
		return it, SkipNoPrice
	}
	link, err := normalizeLink(r.Link)
	if err != nil {
		return it, SkipBadLink
	}
	if strings.TrimSpace(r.Image) == "" {
		return it, SkipNoImage
	}
	if it.Image, err = normalizeLink(r.Image); err != nil {
		return it, SkipNoImage
	}
	if it.Availability = availability(r.Availability); it.Availability == "" {
		return it, SkipAvailability
	}
	if it.Availability == "preorder" || it.Availability == "backorder" {
		if r.AvailabilityDate.Unix() <= 0 {
			return it, SkipNoAvailabilityDate
		}
		if r.AvailabilityDate.After(b.availabilityHorizon()) {
			return it, SkipFarAvailabilityDate
		}
		it.AvailabilityDate = r.AvailabilityDate.UTC()
	}
	if it.Condition = condition(r.Condition); it.Condition == "" {
		return it, SkipCondition
	}
	it.Brand = fitText(r.Brand, 70)
	if it.Brand == "" {
		it.Brand = fitText(b.Site.DefaultBrand, 70)
		if it.Brand == "" {
			it.Brand = b.Site.ID
		}
	}
	it.GTIN = gtin(r.GTIN)
	it.MPN = identifier(r.MPN, maxMPN)
	it.identifiersLeftOut = (it.GTIN == "" && r.GTIN != "") || (it.MPN == "" && r.MPN != "")
	it.ProductType = fitText(r.Category, 750)
	it.GoogleCategory = fitText(r.GoogleCategory, 750)
	it.GroupID = identifier(r.GroupID, maxGroupID)
	it.Labels = [5]string{
		fitText(b.Audience, maxLabel),
		fitText(r.Strategy, maxLabel),
		fitText(r.Reason, maxLabel),
		"",
		fitText(r.Motivation, maxLabel),
	}
	offer := b.applyDiscount(&it, r)
	params := [][2]string{
		{"utm_source", b.UTMSource},
		{"utm_medium", b.UTMMedium},
		{"utm_campaign", b.Audience},
		{b.OfferParam, offer},
	}
	if it.Link = landing(link, params); len(it.Link) > maxLink {
		return it, SkipBadLink
	}
	b.seen[idHash] = struct{}{}
	return it, ""
}

// availabilityHorizon is the latest availability_date a feed shows: a
// year after the run finished. Counting from the run, not the clock,
// keeps a feed's bytes a function of its key (Plan.Key) however late it
// is generated; the run finished before now, so no date shown is more
// than a year ahead. A builder without a run counts from now.
func (b *Builder) availabilityHorizon() time.Time {
	from := b.RunFinished
	if from.IsZero() || from.After(b.Now) {
		from = b.Now
	}
	return from.AddDate(1, 0, 0)
}

// applyDiscount sets the sale price and offer text of an item whose rule
// is active now, and returns its signed offer token ("" when none).
func (b *Builder) applyDiscount(it *Item, r *Row) string {
	rule, ri, ok := matchRuleIndex(b.Rules, b.Audience, r.Motivation, r.Strategy)
	if !ok {
		return ""
	}
	w, ok := b.Windows[r.ProductID]
	if !ok || !w.Active(b.Now) {
		return "" // none, expired or not yet valid: not shown at all
	}
	max := b.Site.MaxDiscount()
	sale, hasSale := discounted(it.Price, rule.Percent, rule.Amount, max)
	bundle := 0.0
	if r.Strategy == "cross_sell" && r.AnchorID != "" && rule.BundlePercent > 0 {
		bundle = min(rule.BundlePercent, max)
	}
	if !hasSale && bundle == 0 {
		return ""
	}
	label := ""
	if b.ruleKeys == nil {
		b.ruleKeys = map[int]string{}
	}
	key, known := b.ruleKeys[ri]
	if !known {
		key = ruleKey(rule)
		b.ruleKeys[ri] = key
	}
	o := Offer{
		Site: b.Site.ID, Audience: b.Audience, Product: it.ID, Currency: it.Price.Currency,
		NotBefore: w.Start.Unix(), Expires: w.End.Unix(), ListPrice: it.Price.amount(), Rule: key,
	}
	if hasSale {
		it.Sale, it.SaleWindow = sale, w
		label = saleLabel(it.Price, sale, rule.Percent, max)
		o.SalePrice = sale.amount()
		if rule.Percent > 0 {
			o.Percent = min(rule.Percent, max)
		} else {
			o.Amount = Money{Minor: it.Price.Minor - sale.Minor, Currency: sale.Currency}.amount()
		}
	}
	if bundle > 0 {
		o.BundlePercent, o.Anchor = bundle, r.AnchorID
	}
	it.Labels[3] = offerText(label, bundle, cleanText(r.AnchorTitle), w, b.loc)
	token, _ := b.signer.sign(o)
	if token != "" {
		it.OfferToken, it.OfferExpires = token, w.End
	}
	return token
}

// availability maps the catalog's words to Google's vocabulary.
func availability(s string) string {
	switch strings.ToLower(underscores.Replace(strings.TrimSpace(s))) {
	case "in_stock", "instock", "":
		return "in_stock"
	case "out_of_stock", "outofstock", "sold_out":
		return "out_of_stock"
	case "preorder", "pre_order":
		return "preorder"
	case "backorder", "back_order", "available_for_order":
		return "backorder"
	}
	return ""
}

var underscores = strings.NewReplacer(" ", "_", "-", "_")

// metaAvailability is Meta's word for a Google availability.
func metaAvailability(google string) string {
	switch google {
	case "out_of_stock":
		return "out of stock"
	case "preorder":
		return "preorder"
	case "backorder":
		return "available for order"
	}
	return "in stock"
}

func condition(s string) string {
	switch c := strings.ToLower(strings.TrimSpace(s)); c {
	case "", "new":
		return "new"
	case "refurbished", "used":
		return c
	}
	return ""
}
