package feeds

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
)

// RuleJSON is a discount rule as the admin API reads and writes it
// (duration as text, e.g. "72h").
type RuleJSON struct {
	Audience      string  `json:"audience,omitempty"`
	Motivation    string  `json:"motivation,omitempty"`
	Strategy      string  `json:"strategy,omitempty"`
	Percent       float64 `json:"percent,omitempty"`
	Amount        float64 `json:"amount,omitempty"`
	BundlePercent float64 `json:"bundle_percent,omitempty"`
	Duration      string  `json:"duration"`
	Start         string  `json:"start,omitempty"`
}

func ruleToJSON(r config.DiscountRule) RuleJSON {
	return RuleJSON{r.Audience, r.Motivation, r.Strategy, r.Percent, r.Amount, r.BundlePercent, r.Duration.String(), r.Start}
}

func (j RuleJSON) rule() (config.DiscountRule, error) {
	d, err := time.ParseDuration(j.Duration)
	if err != nil {
		return config.DiscountRule{}, fmt.Errorf("duration %q: %v", j.Duration, err)
	}
	return config.DiscountRule{Audience: j.Audience, Motivation: j.Motivation, Strategy: j.Strategy,
		Percent: j.Percent, Amount: j.Amount, BundlePercent: j.BundlePercent, Duration: d, Start: j.Start}, nil
}

// mergeRules puts admin rules first and keeps the YAML rules whose
// selector (audience, motivation, strategy) no admin rule has: admin
// rules replace, YAML rules fill in.
func mergeRules(yaml, admin []config.DiscountRule) []config.DiscountRule {
	type sel struct{ a, m, s string }
	taken := map[sel]bool{}
	out := make([]config.DiscountRule, 0, len(yaml)+len(admin))
	for _, r := range admin {
		taken[sel{r.Audience, r.Motivation, r.Strategy}] = true
		out = append(out, r)
	}
	for _, r := range yaml {
		if !taken[sel{r.Audience, r.Motivation, r.Strategy}] {
			out = append(out, r)
		}
	}
	return out
}

// ruleStore reads and writes the admin rules, caching them briefly so a
// feed request does not query them (a PUT on this instance refreshes at
// once; other instances within ttl).
type ruleStore struct {
	db  *chdb.DB
	ttl time.Duration

	mu     sync.Mutex
	cached map[string]cachedRules
}

type cachedRules struct {
	set ruleSet
	at  time.Time
}

// ruleSet is a site's admin rules and their version: nanoseconds at the
// PUT that stored them (0: none ever stored). A feed's key and
// Last-Modified carry the version, so a rule change moves both.
type ruleSet struct {
	rules   []config.DiscountRule
	version uint64
}

// changed is when the rules were stored (zero when never).
func (r ruleSet) changed() time.Time {
	if r.version == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(r.version)).UTC()
}

func newRuleStore(db *chdb.DB) *ruleStore {
	return &ruleStore{db: db, ttl: 10 * time.Second, cached: map[string]cachedRules{}}
}

// admin returns the site's newest admin rule set (nil when none).
func (s *ruleStore) admin(ctx context.Context, site string) ([]config.DiscountRule, error) {
	set, err := s.adminSet(ctx, site)
	return set.rules, err
}

// adminSet returns the site's newest admin rule set with its version.
func (s *ruleStore) adminSet(ctx context.Context, site string) (ruleSet, error) {
	s.mu.Lock()
	c, ok := s.cached[site]
	s.mu.Unlock()
	if ok && time.Since(c.at) < s.ttl {
		return c.set, nil
	}
	// The newest admin rule set of a site.
	const q = `SELECT rules, version FROM feed_discount_rules WHERE site = ? ORDER BY version DESC LIMIT 1`
	rows, err := s.db.Query(ctx, q, site)
	if err != nil {
		return ruleSet{}, fmt.Errorf("cannot read discount rules: %w", err)
	}
	defer rows.Close()
	var set ruleSet
	if rows.Next() {
		var doc string
		if err := rows.Scan(&doc, &set.version); err != nil {
			return ruleSet{}, err
		}
		if set.rules, err = decodeRules(doc); err != nil {
			return ruleSet{}, fmt.Errorf("stored discount rules of %s: %w", site, err)
		}
	}
	if err := rows.Err(); err != nil {
		return ruleSet{}, err
	}
	s.mu.Lock()
	s.cached[site] = cachedRules{set, time.Now()}
	s.mu.Unlock()
	return set, nil
}

func decodeRules(doc string) ([]config.DiscountRule, error) {
	var js []RuleJSON
	if err := json.Unmarshal([]byte(doc), &js); err != nil {
		return nil, err
	}
	out := make([]config.DiscountRule, 0, len(js))
	for _, j := range js {
		r, err := j.rule()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// put stores a new admin rule set (already validated).
func (s *ruleStore) put(ctx context.Context, site string, rules []config.DiscountRule, now time.Time) error {
	js := make([]RuleJSON, len(rules))
	for i, r := range rules {
		js[i] = ruleToJSON(r)
	}
	doc, err := json.Marshal(js)
	if err != nil {
		return err
	}
	// The version orders the sets, so a new one follows every set
	// recorded: from this instance's clock, or just after the newest set
	// when another instance's clock put that one later (a PUT from a
	// clock behind was stored, answered 200 and never in effect).
	var latest uint64
	if err := s.db.QueryRow(ctx, `SELECT max(version) FROM feed_discount_rules WHERE site = ?`, site).Scan(&latest); err != nil {
		return fmt.Errorf("cannot read discount rules: %w", err)
	}
	version := max(uint64(now.UnixNano()), latest+1)
	if err := s.db.InsertRow(ctx, "INSERT INTO feed_discount_rules (site, version, updated_at, rules)",
		site, version, now.UTC(), string(doc)); err != nil {
		return fmt.Errorf("cannot store discount rules: %w", err)
	}
	s.mu.Lock()
	s.cached[site] = cachedRules{ruleSet{rules, version}, time.Now()}
	s.mu.Unlock()
	return nil
}

// effective is the site's rule list: admin rules merged over YAML.
func (s *ruleStore) effective(ctx context.Context, site config.Site) ([]config.DiscountRule, error) {
	set, err := s.effectiveSet(ctx, site)
	return set.rules, err
}

// effectiveSet is effective with the admin rules' version.
func (s *ruleStore) effectiveSet(ctx context.Context, site config.Site) (ruleSet, error) {
	admin, err := s.adminSet(ctx, site.ID)
	if err != nil {
		return ruleSet{}, err
	}
	return ruleSet{mergeRules(site.Discounts, admin.rules), admin.version}, nil
}
