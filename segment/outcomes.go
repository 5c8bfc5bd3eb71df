package segment

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/config"
)

// Outcomes: every run counts, per audience, day joined and group, the
// persons who joined, how many bought within the audience's attribution
// window after joining, their revenue, and the offers they redeemed
// (15_outcomes.sql, v_audience_outcomes). Lift compares the groups
// (lift.go).

// Redemptions brings the recorded offer redemptions up to date (feeds.API
// implements it: it verifies the tokens purchases carry). A run calls it
// before counting outcomes, so their discount cost includes the purchases
// of the run.
type Redemptions interface {
	SyncRedemptions(ctx context.Context, site string, until time.Time) error
}

// SetRedemptions sets what a run calls to record redemptions; without it
// outcomes count only the redemptions already recorded (by the API).
func (e *Engine) SetRedemptions(r Redemptions) { e.redemptions = r }

// outcomeTasks record the redemptions, then count the outcomes of every
// audience of defs, after their joins (joins: the run's join tasks).
func (e *Engine) outcomeTasks(ctx context.Context, res *RunResult, params []any, defs []config.Audience, joins []string) []task {
	names := make([]string, len(defs))
	windows := make([]uint64, len(defs))
	for i, a := range defs {
		names[i], windows[i] = a.Name, uint64(time.Duration(a.Attribution())/time.Second)
	}
	op := append(params[:len(params):len(params)], clickhouse.Named("audiences", names), clickhouse.Named("windows", windows))
	sync := task{name: "15_redemptions", run: func() error {
		if e.redemptions == nil {
			return nil
		}
		t := time.Now()
		if err := e.redemptions.SyncRedemptions(ctx, res.Site, res.AsOf); err != nil {
			// Outcomes still count what is recorded; the next run catches up.
			e.log.Warn("cannot record offer redemptions", "site", res.Site, "err", err)
			resultMu.Lock()
			res.Warnings = append(res.Warnings, fmt.Sprintf("redemptions: %v", err))
			resultMu.Unlock()
		}
		resultMu.Lock()
		res.Steps = append(res.Steps, Step{Name: "15_redemptions", Took: time.Since(t)})
		resultMu.Unlock()
		return nil
	}}
	joinsSQL := query("joins")
	count := task{name: "15_outcomes", after: append([]string{"03_profiles", "15_redemptions"}, joins...), run: func() error {
		if len(defs) == 0 {
			return nil
		}
		return e.step(ctx, res, "15_outcomes", query("15_outcomes", "/*JOINS*/", joinsSQL, "/*PURCHASE_COPIES*/", copies("type = 'purchase'", "")), op)
	}}
	return []task{sync, count}
}

// recordOutcomeTotals keeps the run's totals per audience and group for
// ever (the lift history), as publish does with sizes.
const recordOutcomeTotals = `INSERT INTO seg_outcome_totals (site, run_id, run_time, audience, grp, members, converters, orders,
    revenue, revenue_sq, redemptions, discount_cost)
SELECT site, run_id, toDateTime(@now), audience, grp, sum(members), sum(converters), sum(orders),
    sum(revenue), sum(revenue_sq), sum(redemptions), sum(discount_cost)
FROM seg_outcomes
WHERE site = @site AND run_id = @run
GROUP BY site, run_id, audience, grp`
