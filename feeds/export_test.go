package feeds

import (
	"context"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
)

// ResolveWindows exposes resolveWindows to the integration tests: the
// window of each product a feed of run can list.
func ResolveWindows(ctx context.Context, db *chdb.DB, site, audience string, run string, finished time.Time,
	rules []config.DiscountRule, now time.Time) (map[string]Window, error) {
	o, err := resolveWindows(ctx, db, site, audience, Run{ID: run, Finished: finished}, rules, now, 1000)
	return o.byProduct, err
}

// RuleKey exposes ruleKey.
func RuleKey(r config.DiscountRule) string { return ruleKey(r) }

// SkippedItems exposes the skipped-items counter.
var SkippedItems = skippedItems

// SetCatalogTTL sets how long a remembers each site's catalog version
// (tests make an instance hold a version the catalog has left).
func SetCatalogTTL(a *API, ttl time.Duration) { a.cats.sites.ttl = ttl }
