package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// Feeds configures ad feeds and offers for every site.
type Feeds struct {
	// MaxItems caps the items of one feed (default 10000); a site may
	// lower it with feed_max_items.
	MaxItems int `yaml:"max_items"`
	// UTMMedium is utm_medium on every landing link (default remarketing).
	UTMMedium string `yaml:"utm_medium"`
	// UTMSource is utm_source per format (defaults google: google,
	// meta: facebook, json: remarket).
	UTMSource map[string]string `yaml:"utm_source"`
	// OfferParam is the query parameter carrying the signed offer token on
	// landing links (default rm_offer).
	OfferParam string `yaml:"offer_param"`
	// CacheDir holds each process's directory of generated feeds, one
	// file per run and format (default: the system temp dir).
	CacheDir string `yaml:"cache_dir"`
	// CacheMaxBytes bounds the feed cache on disk (default 1 GiB); the
	// least recently used feeds are dropped first.
	CacheMaxBytes int64 `yaml:"cache_max_bytes"`
}

// SiteFeeds are a site's own discount rules and offer keys.
type SiteFeeds struct {
	// Discounts are matched per item; the most specific rule wins
	// (audience, motivation and strategy each count), ties go to the
	// earlier rule. Rules stored through the admin API replace YAML rules
	// with the same selector.
	Discounts []DiscountRule `yaml:"discounts,omitempty"`
	// MaxDiscountPercent bounds every discount, including bundle prices
	// and rules set through the admin API (default 30).
	MaxDiscountPercent float64 `yaml:"max_discount_percent,omitempty"`
	// OfferKeys sign offer tokens: the first (newest) signs, all verify,
	// so a key is rotated by prepending a new one and dropping the oldest
	// once its offers have expired.
	OfferKeys []OfferKey `yaml:"offer_keys,omitempty"`
	// TimeZone is the IANA zone of offer texts such as "until Fri 28 Nov"
	// (default UTC). Windows themselves are computed in UTC.
	TimeZone string `yaml:"time_zone,omitempty"`
	// DefaultBrand fills brand for products without one (Meta requires a
	// brand, GTIN or MPN; default: the site id).
	DefaultBrand string `yaml:"default_brand,omitempty"`
	// FeedMaxItems lowers feeds.max_items for this site (0: use it).
	FeedMaxItems int `yaml:"feed_max_items,omitempty"`
}

// DiscountRule is one time-limited discount. Empty selectors match any
// item. Exactly one of Percent and Amount gives the price everyone sees
// (sale_price); BundlePercent is the deeper discount for a cross-sell
// bought together with its anchor (carried by the offer token only).
type DiscountRule struct {
	Audience   string `yaml:"audience,omitempty"`
	Motivation string `yaml:"motivation,omitempty"` // new, overstock, bestseller
	Strategy   string `yaml:"strategy,omitempty"`   // upsell, cross_sell, reminder, winback

	Percent       float64 `yaml:"percent,omitempty"`
	Amount        float64 `yaml:"amount,omitempty"` // in the item's currency
	BundlePercent float64 `yaml:"bundle_percent,omitempty"`
	// Duration is the offer window (e.g. 72h); it starts when the segment
	// run finished, or at the visitor's trigger event when Start is
	// "trigger" and the visitor is known.
	Duration time.Duration `yaml:"duration"`
	Start    string        `yaml:"start,omitempty"` // run (default) or trigger
}

// OfferKey is one HMAC-SHA256 key for offer tokens.
type OfferKey struct {
	ID     string `yaml:"id"`
	Secret string `yaml:"secret"`
}

func defaultFeeds() Feeds {
	return Feeds{
		MaxItems:      10000,
		UTMMedium:     "remarketing",
		UTMSource:     map[string]string{"google": "google", "meta": "facebook", "json": "remarket"},
		OfferParam:    "rm_offer",
		CacheMaxBytes: 1 << 30,
	}
}

// DefaultMaxDiscountPercent applies when a site sets none.
const DefaultMaxDiscountPercent = 30

// MaxDiscount is the site's discount bound in percent.
func (f SiteFeeds) MaxDiscount() float64 {
	if f.MaxDiscountPercent == 0 {
		return DefaultMaxDiscountPercent
	}
	return f.MaxDiscountPercent
}

// Location is the site's time zone for offer texts (UTC when unset).
func (f SiteFeeds) Location() *time.Location {
	if f.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(f.TimeZone)
	if err != nil {
		return time.UTC // validated at load; unreachable in practice
	}
	return loc
}

var (
	selectorName = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	offerKeyID   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,16}$`)
	strategies   = map[string]bool{"upsell": true, "cross_sell": true, "reminder": true, "winback": true}
)

// Validate checks one rule against the site's maximum discount.
func (r DiscountRule) Validate(maxPercent float64) error {
	var errs []error
	for _, sel := range [][2]string{{"audience", r.Audience}, {"motivation", r.Motivation}} {
		if sel[1] != "" && !selectorName.MatchString(sel[1]) {
			errs = append(errs, fmt.Errorf("%s %q: use 1-64 of a-z, 0-9, '_' or '-'", sel[0], sel[1]))
		}
	}
	if r.Strategy != "" && !strategies[r.Strategy] {
		errs = append(errs, fmt.Errorf("strategy %q: want upsell, cross_sell, reminder or winback", r.Strategy))
	}
	bad := func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) || x < 0 }
	if bad(r.Percent) || bad(r.Amount) || bad(r.BundlePercent) {
		errs = append(errs, errors.New("percent, amount and bundle_percent must be non-negative numbers"))
	}
	if r.Percent > 0 && r.Amount > 0 {
		errs = append(errs, errors.New("set percent or amount, not both"))
	}
	if r.Percent == 0 && r.Amount == 0 && r.BundlePercent == 0 {
		errs = append(errs, errors.New("set percent, amount or bundle_percent"))
	}
	if r.Percent > maxPercent {
		errs = append(errs, fmt.Errorf("percent %g exceeds the site's max_discount_percent %g", r.Percent, maxPercent))
	}
	if r.BundlePercent > maxPercent {
		errs = append(errs, fmt.Errorf("bundle_percent %g exceeds the site's max_discount_percent %g", r.BundlePercent, maxPercent))
	}
	if r.BundlePercent > 0 && r.BundlePercent <= r.Percent {
		errs = append(errs, errors.New("bundle_percent must be deeper than percent"))
	}
	// Offer windows are whole minutes (the feeds' dates carry no
	// seconds): under a minute, a window starts and ends at once and
	// never opens.
	if r.Duration < time.Minute || r.Duration > 90*24*time.Hour {
		errs = append(errs, fmt.Errorf("duration %v: want between 1m and 2160h (offer windows are whole minutes)", r.Duration))
	}
	if r.Start != "" && r.Start != "run" && r.Start != "trigger" {
		errs = append(errs, fmt.Errorf("start %q: want run or trigger", r.Start))
	}
	return errors.Join(errs...)
}

// SameSelector returns the index of the first of rules with r's
// selector (audience, motivation, strategy), or -1. Of two rules with
// one selector the later never applies (ties go to the earlier).
func (r DiscountRule) SameSelector(rules []DiscountRule) int {
	for i, o := range rules {
		if o.Audience == r.Audience && o.Motivation == r.Motivation && o.Strategy == r.Strategy {
			return i
		}
	}
	return -1
}

func (c Config) validateFeeds() []error {
	var errs []error
	if c.Feeds.MaxItems <= 0 {
		errs = append(errs, errors.New("feeds.max_items must be positive"))
	}
	if c.Feeds.CacheMaxBytes <= 0 {
		errs = append(errs, errors.New("feeds.cache_max_bytes must be positive"))
	}
	if c.Feeds.OfferParam == "" || strings.ContainsAny(c.Feeds.OfferParam, "&=#? ") {
		errs = append(errs, fmt.Errorf("feeds.offer_param %q: want a plain query parameter name", c.Feeds.OfferParam))
	}
	for i, s := range c.Sites {
		where := fmt.Sprintf("sites[%d]", i)
		f := s.SiteFeeds
		if f.MaxDiscountPercent < 0 || f.MaxDiscountPercent > 90 {
			errs = append(errs, fmt.Errorf("%s.max_discount_percent %g: want 0-90", where, f.MaxDiscountPercent))
		}
		for j, r := range f.Discounts {
			if err := r.Validate(f.MaxDiscount()); err != nil {
				errs = append(errs, fmt.Errorf("%s.discounts[%d]: %w", where, j, err))
			}
			if k := r.SameSelector(f.Discounts[:j]); k >= 0 {
				errs = append(errs, fmt.Errorf("%s.discounts[%d]: same audience, motivation and strategy as discounts[%d], so it would never apply", where, j, k))
			}
		}
		ids := map[string]bool{}
		for j, k := range f.OfferKeys {
			if !offerKeyID.MatchString(k.ID) {
				errs = append(errs, fmt.Errorf("%s.offer_keys[%d].id %q: use 1-16 letters, digits, '-' or '_'", where, j, k.ID))
			}
			if ids[k.ID] {
				errs = append(errs, fmt.Errorf("%s.offer_keys[%d].id %q is used twice", where, j, k.ID))
			}
			ids[k.ID] = true
			if len(k.Secret) < 32 {
				errs = append(errs, fmt.Errorf("%s.offer_keys[%d].secret must be at least 32 characters", where, j))
			}
		}
		if f.TimeZone != "" {
			if _, err := time.LoadLocation(f.TimeZone); err != nil {
				errs = append(errs, fmt.Errorf("%s.time_zone %q: %v", where, f.TimeZone, err))
			}
		}
		if f.FeedMaxItems < 0 {
			errs = append(errs, fmt.Errorf("%s.feed_max_items must not be negative", where))
		}
	}
	return errs
}

// redacted hides the offer key secrets (key ids stay, they are public).
func (f SiteFeeds) redacted() SiteFeeds {
	if len(f.OfferKeys) == 0 {
		return f
	}
	keys := make([]OfferKey, len(f.OfferKeys))
	for i, k := range f.OfferKeys {
		keys[i] = OfferKey{ID: k.ID, Secret: redact(k.Secret)}
	}
	f.OfferKeys = keys
	return f
}

func init() { StarterSections = append(StarterSections, starterFeeds) }

// starterFeeds writes default discount rules (a short cart reminder
// discount, a clearance push, a bundle price for cross-sells) and a fresh
// offer signing key.
func starterFeeds(string) string {
	return `    # Feeds: discounts shown as sale_price in ad feeds, bounded by the max.
    max_discount_percent: 30
    time_zone: UTC
    discounts:
      - {strategy: reminder, percent: 10, duration: 48h}
      - {motivation: overstock, percent: 15, duration: 72h}
      - {strategy: cross_sell, bundle_percent: 10, duration: 168h}
    offer_keys:                   # secret: newest first signs offers, all verify
      - {id: k` + time.Now().UTC().Format("060102") + `, secret: ` + Secret(32) + `}
`
}
