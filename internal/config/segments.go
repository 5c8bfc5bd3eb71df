package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxWeightedTypes bounds segments.weights: the interests pass packs a
// line's weighted type into 8 bits (index 1–255, 0 = no weight).
const MaxWeightedTypes = 255

// MaxIncludes bounds an audience's include conditions: membership sets
// one bit of a UInt64 per include that holds.
const MaxIncludes = 64

// MaxSiteEventConditions bounds the events conditions of all a site's
// audiences together: a run's profiles pass evaluates every one of them
// in one statement, and ClickHouse refuses a statement of more than
// 50,000 syntax elements ("AST is too big"), which 512 conditions
// narrowed by categories, products, time and counts passed (four
// audiences of 64 includes and 64 excludes each made every run of the
// site fail).
const MaxSiteEventConditions = 256

// EventConditions counts the events conditions of audiences.
func EventConditions(audiences []Audience) int {
	n := 0
	for _, a := range audiences {
		for _, c := range slices.Concat(a.Include, a.Exclude) {
			if len(c.Events) > 0 {
				n++
			}
		}
	}
	return n
}

// MaxExcludes bounds an audience's exclude conditions. An audience's
// members are one statement, a SELECT per condition joined by UNION ALL:
// 1,400 excludes (a 63 KB definition) made a run of a shop of one
// visitor take 1m42s instead of 2.6s (20 audiences of 64 includes each,
// 7.2s).
const MaxExcludes = 64

// Segments configures interest inference, related products and runs for
// every site. Each field documents its default.
type Segments struct {
	// Schedule is how often serve recomputes segments (default 15m; "0" or
	// "off" disables the schedule; runs can still be triggered).
	Schedule string `yaml:"schedule"`
	// HalfLife is the half-life of an event's weight in interest scores
	// (default 14d): an event 14 days old counts half as much as one now.
	HalfLife Duration `yaml:"half_life"`
	// Weights per event type (defaults product_view 1, add_to_cart 3,
	// checkout 4, purchase 5, product_list_view 0.2, search 0.2,
	// page_view 0.1, remove_from_cart 0). Types not listed weigh 0.
	Weights map[string]float64 `yaml:"weights"`
	// UpsellMaxPriceRatio: an upsell costs more than its anchor and at most
	// this many times its price (default 1.5).
	UpsellMaxPriceRatio float64 `yaml:"upsell_max_price_ratio"`
	// CrossSellMaxPriceRatio: a cross-sell costs at most this many times
	// its anchor's price (default 0.6).
	CrossSellMaxPriceRatio float64 `yaml:"cross_sell_max_price_ratio"`
	// MaxItemsPerVisitor caps each member's recommendations (default 10)
	// so nobody is bombarded.
	MaxItemsPerVisitor int `yaml:"max_items_per_visitor"`
	// MaxAudienceProducts caps an audience's ranked product list (default 200).
	MaxAudienceProducts int `yaml:"max_audience_products"`
	// RelatedTopK: each product lists its best this many related
	// products (default 20), plus its best MaxItemsPerVisitor upsells
	// and cross-sells; fallbacks fill a shorter list up to it.
	RelatedTopK int `yaml:"related_top_k"`
	// MaxItemsPerBasket bounds co-occurrence work: only a visitor's most
	// recent N products form pairs (default 30), so one heavy visitor
	// cannot make the pair count explode quadratically.
	MaxItemsPerBasket int `yaml:"max_items_per_basket"`
	// MinCoOccurrence: a pair of products that fewer visitors' baskets
	// hold than this (default 2) is weak evidence, used for a product
	// only while it has fewer than RelatedTopK stronger partners. On a
	// small shop most pairs are single ones and are all there is to
	// learn from; on a large one they are mostly noise, and scoring its
	// millions of them would multiply the work for nothing that ranks.
	MinCoOccurrence int `yaml:"min_co_occurrence"`
	// ProfessionalMinQuantity: a visitor who ordered at least this many
	// units of one product in one order line is inferred a professional
	// buyer (default 5), unless an identify trait customer_type says otherwise.
	ProfessionalMinQuantity int `yaml:"professional_min_quantity"`
	// KeepRuns is how many complete runs per site keep their rows (default
	// 3, and never fewer than 2: a feed that started on the run just
	// replaced still reads it); older runs' rows are dropped, their
	// history (sizes, status) kept.
	KeepRuns int `yaml:"keep_runs"`
	// Incremental runs recompute only the visitors whose events changed
	// since the previous run and carry every other visitor's state over
	// (default true). Both kinds of run give the same rows; false makes
	// every run full, as --full does.
	Incremental bool `yaml:"incremental"`
	// FullRunEvery bounds how long incremental runs build on each other
	// (default 24h): a full run then starts again from the events, and
	// from any change made to them outside remarket.
	FullRunEvery Duration `yaml:"full_run_every"`
	// IncrementalMaxNewEventsPercent: a run is incremental only while the
	// events stored since the previous run are at most this percent of
	// the site's events (default 1). An incremental run still reads
	// every visitor id and copies every other visitor's rows, so past a
	// few percent it costs what a full run does (BENCHMARKS.md, against a
	// full run on the same events: 0.65× (26.7) to 0.83× (18.16) at 1%,
	// 0.95× at 3% and 1.0× at 5% on 18.16).
	IncrementalMaxNewEventsPercent float64 `yaml:"incremental_max_new_events_percent"`
	// IncrementalMaxCatalogReachPercent: a run is incremental only while
	// at most this percent of the previous run's visitors have an
	// interest in a product added, removed, repriced or recategorised
	// since it (default 10): those visitors are recomputed, and
	// recomputing a tenth of them costs about what a full run does.
	IncrementalMaxCatalogReachPercent float64 `yaml:"incremental_max_catalog_reach_percent"`
	// RunAbandonedAfter: a run says it is alive every minute while it
	// computes (more often when this is under 5 minutes); a run silent
	// this long (default 15m) died with its process (killed, out of
	// memory, a restarted machine), and the site's next run drops its rows
	// and records it failed. Longer than any pause of a live process,
	// and than the difference between the clocks of remarket's machines
	// (a run's signs of life carry its own machine's time).
	RunAbandonedAfter Duration `yaml:"run_abandoned_after"`
}

// SiteSegments are a site's own audience definitions. Definitions stored
// through the admin API are merged with these; the API's win by name.
type SiteSegments struct {
	Audiences []Audience `yaml:"audiences,omitempty"`
}

func defaultSegments() Segments {
	return Segments{
		Schedule: "15m",
		HalfLife: Duration(14 * 24 * time.Hour),
		Weights: map[string]float64{
			"product_view": 1, "add_to_cart": 3, "checkout": 4, "purchase": 5,
			"product_list_view": 0.2, "search": 0.2, "page_view": 0.1, "remove_from_cart": 0,
		},
		UpsellMaxPriceRatio:     1.5,
		CrossSellMaxPriceRatio:  0.6,
		MaxItemsPerVisitor:      10,
		MaxAudienceProducts:     200,
		RelatedTopK:             20,
		MaxItemsPerBasket:       30,
		MinCoOccurrence:         2,
		ProfessionalMinQuantity: 5,
		KeepRuns:                3,

		Incremental:                       true,
		FullRunEvery:                      Duration(24 * time.Hour),
		IncrementalMaxNewEventsPercent:    1,
		IncrementalMaxCatalogReachPercent: 10,
		RunAbandonedAfter:                 Duration(15 * time.Minute),
	}
}

// ScheduleEvery is the parsed schedule; 0 means disabled.
func (s Segments) ScheduleEvery() (time.Duration, error) {
	switch strings.TrimSpace(s.Schedule) {
	case "", "0", "off":
		return 0, nil
	}
	d, err := ParseDuration(s.Schedule)
	if err != nil {
		return 0, fmt.Errorf("segments.schedule: %w", err)
	}
	return time.Duration(d), nil
}

func (c Config) validateSegments() []error {
	var errs []error
	s := c.Segments
	if _, err := s.ScheduleEvery(); err != nil {
		errs = append(errs, err)
	}
	if s.HalfLife <= 0 {
		errs = append(errs, errors.New("segments.half_life must be positive"))
	}
	if s.UpsellMaxPriceRatio <= 1 {
		errs = append(errs, errors.New("segments.upsell_max_price_ratio must be above 1"))
	}
	if s.CrossSellMaxPriceRatio <= 0 {
		errs = append(errs, errors.New("segments.cross_sell_max_price_ratio must be positive"))
	}
	if s.MaxItemsPerVisitor <= 0 || s.MaxAudienceProducts <= 0 || s.RelatedTopK <= 0 || s.MaxItemsPerBasket < 2 || s.KeepRuns < 1 {
		errs = append(errs, errors.New("segments: max_items_per_visitor, max_audience_products, related_top_k and keep_runs must be positive, max_items_per_basket at least 2"))
	}
	if s.FullRunEvery <= 0 {
		errs = append(errs, errors.New("segments.full_run_every must be positive (segments.incremental: false makes every run full)"))
	}
	if s.RunAbandonedAfter < Duration(time.Second) {
		errs = append(errs, fmt.Errorf("segments.run_abandoned_after must be at least 1s, got %s", time.Duration(s.RunAbandonedAfter)))
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"incremental_max_new_events_percent", s.IncrementalMaxNewEventsPercent}, {"incremental_max_catalog_reach_percent", s.IncrementalMaxCatalogReachPercent}} {
		if !(p.v >= 0 && p.v <= 100) { // NaN too
			errs = append(errs, fmt.Errorf("segments.%s must be between 0 and 100, got %g", p.name, p.v))
		}
	}
	if s.MinCoOccurrence < 1 {
		errs = append(errs, errors.New("segments.min_co_occurrence must be at least 1"))
	}
	if len(s.Weights) > MaxWeightedTypes {
		errs = append(errs, fmt.Errorf("segments.weights: at most %d event types may have a weight, got %d", MaxWeightedTypes, len(s.Weights)))
	}
	for k, w := range s.Weights {
		if !eventTypeRe.MatchString(k) || w < 0 {
			errs = append(errs, fmt.Errorf("segments.weights.%s: want an event type and a weight ≥ 0", k))
		}
	}
	for i, site := range c.Sites {
		seen := map[string]bool{}
		for j, a := range site.Audiences {
			if err := a.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("sites[%d].audiences[%d]: %w", i, j, err))
			}
			if seen[a.Name] {
				errs = append(errs, fmt.Errorf("sites[%d].audiences[%d].name %q is used twice", i, j, a.Name))
			}
			seen[a.Name] = true
		}
		if n := EventConditions(site.Audiences); n > MaxSiteEventConditions {
			errs = append(errs, fmt.Errorf("sites[%d].audiences: %d events conditions in all, at most %d per site (a run evaluates them all in one statement)", i, n, MaxSiteEventConditions))
		}
	}
	return errs
}

// Duration is a time span written like Go's durations plus days and weeks
// ("90m", "36h", "3d", "2w"), in YAML and JSON alike.
type Duration time.Duration

// ParseDuration reads "3d", "2w", "12h", "90m" or "0".
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil || !(f >= 0) { // NaN too
				return 0, fmt.Errorf("duration %q: want a number of %s such as 3%s", s, suffix, suffix)
			}
			return durationOf(s, f*float64(unit))
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("duration %q: want e.g. 90m, 36h, 3d or 2w", s)
	}
	return Duration(d), nil
}

// durationOf converts ns nanoseconds, refusing what a Duration cannot
// hold: converted as is, 200000w wraps round to a negative span.
func durationOf(s string, ns float64) (Duration, error) {
	if !(ns >= 0) { // NaN too
		return 0, fmt.Errorf("duration %q: want a span of 0 or more", s)
	}
	if ns >= math.MaxInt64 { // +Inf too
		return 0, fmt.Errorf("duration %q: want at most %s (about 292 years)", s, maxDurationWeeks)
	}
	return Duration(ns), nil
}

// maxDurationWeeks is the longest Duration, in whole weeks.
const maxDurationWeeks = "15250w"

func (d Duration) String() string {
	td := time.Duration(d)
	switch {
	case td == 0:
		return "0"
	case td%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	default:
		return td.String()
	}
}

// UnmarshalText lets YAML and JSON read "3d".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText writes the same form back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalJSON also accepts a bare number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var n float64
	if json.Unmarshal(b, &n) == nil {
		v, err := durationOf(string(b)+" seconds", n*float64(time.Second))
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"3d\"")
	}
	return d.UnmarshalText([]byte(s))
}

// Audience strategies.
const (
	Upsell    = "upsell"
	CrossSell = "cross_sell"
	Reminder  = "reminder"
	Winback   = "winback"
)

// Stages of a visitor's intent for one product.
const (
	Browsed   = "browsed"
	Carted    = "carted"
	Purchased = "purchased"
)

// Audience is a declarative audience definition: who is in it (all
// Include conditions hold, no Exclude condition holds, and the qualifying
// activity is within Window) and what to show them (Strategy).
type Audience struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Strategy is upsell, cross_sell, reminder or winback: it chooses the
	// anchors (viewed, carted or bought products) and the kinds of items.
	Strategy string `yaml:"strategy" json:"strategy"`
	// Window is the membership window: a visitor whose qualifying activity
	// (trigger) is older than this leaves the audience (0: no limit).
	Window  Duration    `yaml:"window,omitempty" json:"window,omitempty"`
	Include []Condition `yaml:"include" json:"include"`
	Exclude []Condition `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	// HoldoutPercent of the audience's people form its holdout (absent:
	// DefaultHoldoutPercent; 0 disables it): computed like everyone else,
	// never exported nor targeted, the control group its outcomes are
	// compared with. Who is in it is a keyed hash of the person (see
	// Config.HoldoutKey), the same in every run and on every device.
	HoldoutPercent *float64 `yaml:"holdout_percent,omitempty" json:"holdout_percent,omitempty"`
	// AttributionWindow is how long after joining a member's purchases
	// count as the audience's outcome (0: DefaultAttributionWindow).
	AttributionWindow Duration `yaml:"attribution_window,omitempty" json:"attribution_window,omitempty"`
}

// Outcome defaults and bounds (docs/analytics.md, "Outcomes and lift").
const (
	DefaultHoldoutPercent    = 10
	MaxHoldoutPercent        = 50
	DefaultAttributionWindow = Duration(14 * 24 * time.Hour)
	MaxAttributionWindow     = Duration(90 * 24 * time.Hour)
)

// Holdout is the audience's holdout share in percent.
func (a Audience) Holdout() float64 {
	if a.HoldoutPercent == nil {
		return DefaultHoldoutPercent
	}
	return *a.HoldoutPercent
}

// Attribution is the audience's attribution window.
func (a Audience) Attribution() Duration {
	if a.AttributionWindow == 0 {
		return DefaultAttributionWindow
	}
	return a.AttributionWindow
}

// Condition is one test on a visitor. Exactly one of Events, Stage,
// MinScore, Traits and CustomerType says what is tested; Categories
// (path prefixes) and Products narrow events, stages and scores; Since and
// Until bound the time (Since 7d, Until 1d = between 7 and 1 days ago).
type Condition struct {
	Events       []string          `yaml:"events,omitempty" json:"events,omitempty"`
	Stage        string            `yaml:"stage,omitempty" json:"stage,omitempty"`
	MinScore     float64           `yaml:"min_score,omitempty" json:"min_score,omitempty"`
	Traits       map[string]string `yaml:"traits,omitempty" json:"traits,omitempty"`
	CustomerType string            `yaml:"customer_type,omitempty" json:"customer_type,omitempty"`

	Categories []string `yaml:"categories,omitempty" json:"categories,omitempty"`
	Products   []string `yaml:"products,omitempty" json:"products,omitempty"`
	Since      Duration `yaml:"since,omitempty" json:"since,omitempty"`
	Until      Duration `yaml:"until,omitempty" json:"until,omitempty"`
	// MinCount and MaxCount bound how many matching events (default at
	// least 1; MaxCount 0 means no upper bound).
	MinCount int `yaml:"min_count,omitempty" json:"min_count,omitempty"`
	MaxCount int `yaml:"max_count,omitempty" json:"max_count,omitempty"`
}

var (
	audienceNameRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	eventTypeRe    = regexp.MustCompile(`^[a-z_]{1,32}$`)
	traitKeyRe     = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
)

// EventTypes are the event types a condition may name.
var EventTypes = []string{"page_view", "product_view", "product_list_view", "search",
	"add_to_cart", "remove_from_cart", "checkout", "purchase", "identify", "custom"}

// ValidAudienceName reports whether name fits [a-z0-9_-]{1,64}.
func ValidAudienceName(name string) bool { return audienceNameRe.MatchString(name) }

// FieldError is a definition error naming the offending field, such as
// "include[0].stage".
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate checks a definition without a database; errors name the field.
func (a Audience) Validate() error {
	if !ValidAudienceName(a.Name) {
		return fieldErr("name", "%q: use 1-64 of a-z, 0-9, '_' or '-'", a.Name)
	}
	switch a.Strategy {
	case Upsell, CrossSell, Reminder, Winback:
	default:
		return fieldErr("strategy", "%q: want upsell, cross_sell, reminder or winback", a.Strategy)
	}
	if a.Window < 0 {
		return fieldErr("window", "must not be negative")
	}
	// Windows are bound in whole seconds: under one, a span is 0 seconds,
	// and a window of 0 seconds admits nobody (0 itself means no limit).
	if a.Window > 0 && a.Window < Duration(time.Second) {
		return fieldErr("window", "%s: want at least 1s, or 0 for no limit", time.Duration(a.Window))
	}
	if len(a.Include) == 0 {
		return fieldErr("include", "at least one condition is required")
	}
	if len(a.Include) > MaxIncludes {
		return fieldErr("include", "at most %d conditions", MaxIncludes)
	}
	if len(a.Exclude) > MaxExcludes {
		return fieldErr("exclude", "at most %d conditions", MaxExcludes)
	}
	if len(a.Description) > 500 {
		return fieldErr("description", "at most 500 characters")
	}
	if h := a.Holdout(); math.IsNaN(h) || h < 0 || h > MaxHoldoutPercent {
		return fieldErr("holdout_percent", "%g: want 0 (no holdout) to %d", h, MaxHoldoutPercent)
	}
	if a.AttributionWindow < 0 || a.AttributionWindow > MaxAttributionWindow {
		return fieldErr("attribution_window", "%s: want a duration up to %s", a.AttributionWindow, MaxAttributionWindow)
	}
	for i, c := range a.Include {
		if err := c.validate(fmt.Sprintf("include[%d]", i)); err != nil {
			return err
		}
	}
	for i, c := range a.Exclude {
		if err := c.validate(fmt.Sprintf("exclude[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (c Condition) validate(at string) error {
	kinds := 0
	if len(c.Events) > 0 {
		kinds++
	}
	if c.Stage != "" {
		kinds++
	}
	if c.MinScore != 0 {
		kinds++
	}
	if len(c.Traits) > 0 {
		kinds++
	}
	if c.CustomerType != "" {
		kinds++
	}
	if kinds != 1 {
		return fieldErr(at, "set exactly one of events, stage, min_score, traits, customer_type")
	}
	for i, e := range c.Events {
		if !contains(EventTypes, e) {
			return fieldErr(fmt.Sprintf("%s.events[%d]", at, i), "%q: unknown event type (want one of %s)", e, strings.Join(EventTypes, ", "))
		}
	}
	switch c.Stage {
	case "", Browsed, Carted, Purchased:
	default:
		return fieldErr(at+".stage", "%q: want browsed, carted or purchased", c.Stage)
	}
	// NaN and infinity (YAML's .nan, .inf) would load and select nobody.
	if c.MinScore < 0 || math.IsNaN(c.MinScore) || math.IsInf(c.MinScore, 0) {
		return fieldErr(at+".min_score", "%g: want a positive number", c.MinScore)
	}
	for k, v := range c.Traits {
		if !traitKeyRe.MatchString(k) {
			return fieldErr(at+".traits", "key %q: use 1-64 letters, digits or '_'", k)
		}
		if len(v) > 1000 {
			return fieldErr(at+".traits."+k, "value longer than 1000 characters")
		}
		// A visitor without the trait reads as "": an empty value (YAML's
		// "key:" with nothing after it) selected everyone without it.
		if v == "" {
			return fieldErr(at+".traits."+k, "want a value (an empty one would match every visitor without this trait)")
		}
	}
	if len(c.CustomerType) > 64 {
		return fieldErr(at+".customer_type", "at most 64 characters")
	}
	for i, cat := range c.Categories {
		if strings.TrimSpace(cat) == "" || len(cat) > 500 {
			return fieldErr(fmt.Sprintf("%s.categories[%d]", at, i), "want a category path such as \"Cameras > Lenses\"")
		}
	}
	for i, p := range c.Products {
		if p == "" || len(p) > 200 {
			return fieldErr(fmt.Sprintf("%s.products[%d]", at, i), "want a product id")
		}
	}
	if (len(c.Traits) > 0 || c.CustomerType != "") && (len(c.Categories) > 0 || len(c.Products) > 0 || c.Since != 0 || c.Until != 0) {
		return fieldErr(at, "traits and customer_type take no categories, products, since or until")
	}
	if c.MinScore != 0 && (c.Since != 0 || c.Until != 0) {
		return fieldErr(at+".since", "interest scores already decay with time: since/until do not apply to min_score")
	}
	if c.Since < 0 || c.Until < 0 {
		return fieldErr(at+".since", "windows are durations ago and must not be negative")
	}
	// Bound in whole seconds, a since under one is "since now": nobody.
	if c.Since > 0 && c.Since < Duration(time.Second) {
		return fieldErr(at+".since", "%s: want at least 1s", time.Duration(c.Since))
	}
	if c.Since != 0 && c.Until >= c.Since {
		return fieldErr(at+".until", "until (%s ago) must be more recent than since (%s ago)", c.Until, c.Since)
	}
	if c.MinCount < 0 || c.MaxCount < 0 || (c.MaxCount > 0 && c.MaxCount < c.MinCount) {
		return fieldErr(at+".max_count", "counts must be ≥ 0 and max_count ≥ min_count")
	}
	if (c.MinCount != 0 || c.MaxCount != 0) && len(c.Events) == 0 {
		return fieldErr(at+".min_count", "counts apply to events conditions only")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
