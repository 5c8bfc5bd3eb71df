// Package segment turns a site's events into what re-marketing needs, all
// computed inside ClickHouse: per-visitor interests (time-decayed,
// event-weighted, per category prefix and product), intent stages, price
// band and customer type; related products as a relation (co-views and
// co-purchases weighted by closeness in the visitor's basket and damped
// for popularity, declared upgrades and complements, category and shop
// best sellers for cold start), each with a strategy from the price
// rules (upsell, cross-sell or similar) and one order across kinds;
// audiences from declarative definitions; and each member's ranked
// products — the policy: upsells and cross-sells only — with a human
// reason. EvaluateNextItem measures the related products on held-out
// sessions against item-kNN and most-popular.
//
// A run writes a complete snapshot tagged with its run id and then moves
// the site's current-run pointer in one insert, so readers (the v_* views,
// the APIs, feeds) see either the previous run or the new one, never a
// half-written one. A failed run leaves the previous one serving.
package segment

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
)

// Engine runs segment computations for the configured sites.
type Engine struct {
	cfg config.Config
	db  *chdb.DB
	log *slog.Logger
	// Now is the clock; tests pin it so decay and windows are exact.
	Now func() time.Time
	// beforeSwitch, when set, runs after a run's rows are written and
	// before the pointer moves (tests use it to read mid-run).
	beforeSwitch func(ctx context.Context, site, runID string) error
	// afterSwitch, when set (tests), runs right after a run's switch
	// (the run is recorded ok by then), before it drops its work rows.
	afterSwitch func()
	// afterPlan, when set (tests), runs once a run has chosen its mode,
	// before it reads the previous run's rows.
	afterPlan func(ctx context.Context, site, prev string) error
	// redemptions records offer redemptions before outcomes (SetRedemptions).
	redemptions Redemptions
	// insertMargin: see defaultInsertMargin (tests set 0).
	insertMargin time.Duration
}

// New returns an engine; log may be nil.
func New(cfg config.Config, db *chdb.DB, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.Default()
	}
	return &Engine{cfg: cfg, db: db, log: log, Now: time.Now, insertMargin: defaultInsertMargin}
}

// SetInsertMargin sets how long before the previous run started an
// insert counts as new (defaultInsertMargin). Tests and benchmarks that
// insert and run one after the other set 0, so that only the events
// stored after the previous run started count as new.
func (e *Engine) SetInsertMargin(d time.Duration) { e.insertMargin = d }

// SetBeforeSwitch installs a hook run between a run's last write and its
// switch. It exists for tests of the atomic switch.
func (e *Engine) SetBeforeSwitch(f func(ctx context.Context, site, runID string) error) {
	e.beforeSwitch = f
}

// ratioSlack widens the price ratios by a billionth: a price at the
// limit is within it ("at most 0.6 × the anchor"), but the ratio times a
// price comes out a hair below in floating point (0.6 × 72 =
// 43.199999999999996 < 43.2, 1.5 × 2.4 < 3.6), which left such prices out.
const ratioSlack = 1 + 1e-9

// params are the named query parameters every run query shares.
func (e *Engine) params(site, runID string, asOf time.Time) []any {
	s := e.cfg.Segments
	types := make([]string, 0, len(s.Weights))
	for t := range s.Weights {
		types = append(types, t)
	}
	sort.Strings(types)
	vals := make([]float64, len(types))
	for i, t := range types {
		vals[i] = s.Weights[t]
	}
	return []any{
		clickhouse.Named("site", site),
		clickhouse.Named("run", runID),
		clickhouse.Named("now", asOf.Unix()),
		clickhouse.Named("half_life_days", time.Duration(s.HalfLife).Hours()/24),
		clickhouse.Named("wtypes", types),
		clickhouse.Named("wvals", vals),
		clickhouse.Named("up", s.UpsellMaxPriceRatio*ratioSlack),
		clickhouse.Named("xs", s.CrossSellMaxPriceRatio*ratioSlack),
		clickhouse.Named("topk", s.RelatedTopK),
		clickhouse.Named("cap", s.MaxItemsPerBasket),
		clickhouse.Named("min_pair", s.MinCoOccurrence),
		clickhouse.Named("pro_qty", s.ProfessionalMinQuantity),
		clickhouse.Named("max_items", s.MaxItemsPerVisitor),
		clickhouse.Named("max_products", s.MaxAudienceProducts),
	}
}
