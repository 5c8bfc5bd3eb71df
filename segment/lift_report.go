package segment

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/httpx"
)

// LiftMethod says in one sentence how a lift is computed.
const LiftMethod = "A member converts when they buy within the attribution window after joining; " +
	"95% intervals: Wilson for each group's rate, Newcombe's hybrid score for the difference, " +
	"log (Katz) for the ratio, Welch's normal interval for incremental revenue."

// LiftReport is an audience's outcome in the current run: the lift over
// all days joined, each day's cohort with the lift of all days up to it,
// the lift each day's last run saw, and the redemptions of its offers.
type LiftReport struct {
	Site              string     `json:"site"`
	Audience          string     `json:"audience"`
	RunID             string     `json:"run_id"`
	AsOf              *time.Time `json:"as_of"`
	HoldoutPercent    float64    `json:"holdout_percent"`
	AttributionWindow string     `json:"attribution_window"`
	CompleteOnly      bool       `json:"complete_only"`
	Method            string     `json:"method"`
	// Currencies are those of the orders and redemptions counted (none
	// when the shop names none). With more than one, revenue figures add
	// up amounts of different currencies: incremental revenue is left
	// out (null) and the message says why.
	Currencies []string `json:"currencies"`
	Lift
	DiscountCost float64             `json:"discount_cost"`
	Days         []DayLift           `json:"days"`
	History      []HistoryLift       `json:"history"`
	Redemptions  []RedemptionSummary `json:"redemptions"`
}

// DayLift is one day's cohort and the lift of the cohorts up to it.
type DayLift struct {
	Day        string       `json:"day"`
	Complete   bool         `json:"complete"`
	Treatment  GroupOutcome `json:"treatment"`
	Holdout    GroupOutcome `json:"holdout"`
	Cumulative *Estimate    `json:"cumulative_absolute_lift"`
	Verdict    string       `json:"cumulative_verdict"`
}

// HistoryLift is the lift as the last run of a day saw it.
type HistoryLift struct {
	Day       string       `json:"day"`
	RunTime   time.Time    `json:"run_time"`
	Treatment GroupOutcome `json:"treatment"`
	Holdout   GroupOutcome `json:"holdout"`
	Absolute  *Estimate    `json:"absolute_lift"`
	Verdict   string       `json:"verdict"`
}

// RedemptionSummary counts an audience's redemptions of one rule,
// product and currency.
type RedemptionSummary struct {
	RuleKey     string  `json:"rule_key"`
	Rule        string  `json:"rule"`
	ProductID   string  `json:"product_id"`
	Currency    string  `json:"currency"`
	Redemptions uint64  `json:"redemptions"`
	Quantity    uint64  `json:"quantity"`
	Revenue     float64 `json:"revenue"`
	Discount    float64 `json:"discount"`
}

// ErrNoAudience is an audience the site does not define.
var ErrNoAudience = httpx.Errorf(httpx.NotFound, "no such audience")

// LiftReport reads an audience's outcomes of the current run; with
// completeOnly only the days whose attribution windows have all ended.
func (e *Engine) LiftReport(ctx context.Context, site, audience string, completeOnly bool) (LiftReport, error) {
	defs, err := e.Definitions(ctx, site)
	if err != nil {
		return LiftReport{}, err
	}
	r := LiftReport{Site: site, Audience: audience, CompleteOnly: completeOnly, Method: LiftMethod, Currencies: []string{},
		Days: []DayLift{}, History: []HistoryLift{}, Redemptions: []RedemptionSummary{}}
	found := false
	for _, d := range defs {
		if d.Name == audience {
			found, r.HoldoutPercent, r.AttributionWindow = true, d.Holdout(), d.Attribution().String()
		}
	}
	if !found {
		return r, ErrNoAudience
	}
	p := []any{clickhouse.Named("site", site), clickhouse.Named("audience", audience)}
	// The current run and its as-of time.
	rows, err := e.db.Query(ctx, `SELECT run_id, as_of FROM v_current_runs WHERE site = @site`, p...)
	if err != nil {
		return r, err
	}
	for rows.Next() {
		var at time.Time
		if err := rows.Scan(&r.RunID, &at); err != nil {
			rows.Close()
			return r, err
		}
		at = at.UTC()
		r.AsOf = &at
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, err
	}
	if r.AsOf == nil {
		return r, nil // no run yet: nothing joined
	}
	// Every figure is the current run's, as of its time, even when
	// another run becomes current while the report is read.
	p = append(p, clickhouse.Named("run", r.RunID), clickhouse.Named("as_of", *r.AsOf))
	if err := e.cohorts(ctx, &r, p, completeOnly); err != nil {
		return r, err
	}
	if err := e.liftHistory(ctx, &r, p); err != nil {
		return r, err
	}
	return r, e.redemptionSummary(ctx, &r, p)
}

// cohorts reads the days joined and sums them into the report's lift.
func (e *Engine) cohorts(ctx context.Context, r *LiftReport, p []any, completeOnly bool) error {
	// The audience's outcomes in the run per day joined and group, oldest
	// first (v_audience_outcomes of the run read, by the table's key).
	rows, err := e.db.Query(ctx, `SELECT toString(day_joined), grp, members, converters, orders, revenue, revenue_sq,
			redemptions, discount_cost, complete, currencies
		FROM seg_outcomes WHERE site = @site AND run_id = @run AND audience = @audience
		ORDER BY day_joined, grp`, p...)
	if err != nil {
		return fmt.Errorf("cannot read outcomes: %w", err)
	}
	defer rows.Close()
	var t, h GroupOutcome
	currencies := map[string]bool{}
	for rows.Next() {
		var day, grp string
		var g GroupOutcome
		var complete uint8
		var cur []string
		if err := rows.Scan(&day, &grp, &g.Members, &g.Converters, &g.Orders, &g.Revenue, &g.RevenueSq,
			&g.Redemptions, &g.DiscountCost, &complete, &cur); err != nil {
			return err
		}
		if completeOnly && complete == 0 {
			continue
		}
		for _, c := range cur {
			currencies[c] = true
		}
		if n := len(r.Days); n == 0 || r.Days[n-1].Day != day {
			r.Days = append(r.Days, DayLift{Day: day, Complete: true})
		}
		d := &r.Days[len(r.Days)-1]
		d.Complete = d.Complete && complete == 1
		if grp == Holdout {
			d.Holdout.Add(g)
			h.Add(g)
		} else {
			d.Treatment.Add(g)
			t.Add(g)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var ct, ch GroupOutcome
	for i := range r.Days {
		ct.Add(r.Days[i].Treatment)
		ch.Add(r.Days[i].Holdout)
		l := Compare(ct, ch)
		r.Days[i].Cumulative, r.Days[i].Verdict = l.Absolute, l.Verdict
	}
	r.Lift = Compare(t, h)
	r.DiscountCost = t.DiscountCost + h.DiscountCost
	r.Currencies = slices.Sorted(maps.Keys(currencies))
	if len(r.Currencies) > 1 && r.IncrementalRevenue != nil {
		r.IncrementalRevenue = nil
		r.Message += " Revenue is in several currencies (" + strings.Join(r.Currencies, ", ") +
			"): its sums add up amounts of different currencies, and incremental revenue is not computed."
	}
	return nil
}

// liftHistory reads the totals of each day's last run.
func (e *Engine) liftHistory(ctx context.Context, r *LiftReport, p []any) error {
	// Per day, the totals of the audience's last run that day (the latest
	// run time, then the latest run id: run ids follow the wall clock),
	// both groups of that one run. The rows of v_audience_outcome_history
	// (runs recorded ok), read by the tables' keys: the view groups every
	// site's runs on 18.16.
	rows, err := e.db.Query(ctx, `SELECT toString(toDate(run_time, 'UTC')) AS day, grp, run_time, members, converters, orders,
			revenue, revenue_sq, redemptions, discount_cost
		FROM seg_outcome_totals
		WHERE site = @site AND audience = @audience
			AND run_id IN (
				SELECT argMax(run_id, (run_time, run_id))
				FROM seg_outcome_totals
				WHERE site = @site AND audience = @audience
					AND run_id IN (SELECT run_id FROM seg_runs WHERE site = @site GROUP BY run_id HAVING argMax(status, updated) = 'ok')
				GROUP BY toDate(run_time, 'UTC'))
		ORDER BY day DESC, grp LIMIT 730`, p...)
	if err != nil {
		return fmt.Errorf("cannot read the outcome history: %w", err)
	}
	defer rows.Close()
	byDay := map[string]*HistoryLift{}
	var order []string
	for rows.Next() {
		var day, grp string
		var at time.Time
		var g GroupOutcome
		if err := rows.Scan(&day, &grp, &at, &g.Members, &g.Converters, &g.Orders, &g.Revenue, &g.RevenueSq,
			&g.Redemptions, &g.DiscountCost); err != nil {
			return err
		}
		hl, ok := byDay[day]
		if !ok {
			hl = &HistoryLift{Day: day, RunTime: at.UTC()}
			byDay[day] = hl
			order = append(order, day)
		}
		if at.After(hl.RunTime) {
			hl.RunTime = at.UTC()
		}
		if grp == Holdout {
			hl.Holdout = g
		} else {
			hl.Treatment = g
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := len(order) - 1; i >= 0; i-- { // oldest first
		hl := byDay[order[i]]
		l := Compare(hl.Treatment, hl.Holdout)
		hl.Absolute, hl.Verdict = l.Absolute, l.Verdict
		r.History = append(r.History, *hl)
	}
	return nil
}

// redemptionSummary counts the audience's redemptions per rule, product and
// currency.
func (e *Engine) redemptionSummary(ctx context.Context, r *LiftReport, p []any) error {
	// The audience's redemptions by the run's as-of time per rule, product
	// and currency (amounts of two currencies are not added up), most
	// redeemed first.
	rows, err := e.db.Query(ctx, `SELECT rule_key, rule, product_id, currency, count() AS n, sum(quantity), sum(revenue), sum(discount)
		FROM v_offer_redemptions WHERE site = @site AND audience = @audience AND redeemed_at <= toDateTime(@as_of)
		GROUP BY rule_key, rule, product_id, currency
		ORDER BY n DESC, rule_key, product_id, currency LIMIT 100`, p...)
	if err != nil {
		return fmt.Errorf("cannot read redemptions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s RedemptionSummary
		if err := rows.Scan(&s.RuleKey, &s.Rule, &s.ProductID, &s.Currency, &s.Redemptions, &s.Quantity, &s.Revenue, &s.Discount); err != nil {
			return err
		}
		r.Redemptions = append(r.Redemptions, s)
	}
	return rows.Err()
}

// lift answers GET /api/sites/:site/audiences/:audience/lift
// (?complete=1: only days whose attribution windows have ended).
func (a *API) lift(c *gin.Context) {
	complete := c.Query("complete") == "1" || c.Query("complete") == "true"
	r, err := a.engine.LiftReport(c.Request.Context(), httpx.CurrentSite(c).ID, c.Param("audience"), complete)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}
