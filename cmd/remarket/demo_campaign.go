package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/demo"
	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

// The demo's campaign (demo/campaign.go): segment runs as of every third
// day of the simulation's last weeks, each followed by what the shop's
// visitors who just joined an audience do: come back on their own, or,
// when treated, through the audience's feed with its offer.
const (
	campaignRuns  = 8
	campaignEvery = 3 * 24 * time.Hour
)

// demoCampaign runs the campaign once per simulated traffic (demo_runs
// remembers it); base is the running server the responses go through.
func (a *app) demoCampaign(ctx context.Context, base string, seed uint64) error {
	prev, err := demo.LastRun(ctx, a.db, demo.Site)
	if err != nil || !prev.Finished {
		return err
	}
	var done uint64
	if err := a.db.QueryRow(ctx, `SELECT count() FROM demo_runs WHERE site = ? AND anchor = ? AND status = 'campaign'`, demo.Site, prev.Anchor).Scan(&done); err != nil {
		return err
	}
	if done > 0 {
		a.printf("campaign: already simulated; keeping it\n")
		return nil
	}
	site, _ := a.cfg.Site(demo.Site)
	c, err := demo.LoadCatalog()
	if err != nil {
		return err
	}
	engine := segment.New(a.cfg, a.db, a.log)
	offers := feeds.NewAPI(a.cfg, a.db, a.log)
	defer offers.Close()
	engine.SetRedemptions(offers)
	gin.SetMode(gin.ReleaseMode)
	router := gin.New()
	offers.Register(router)
	start := time.Now()
	var responders, ordered, reported int
	for k := range campaignRuns {
		at := prev.Anchor.Add(-time.Duration(campaignRuns-k) * campaignEvery)
		engine.Now = func() time.Time { return at }
		res, err := engine.Run(ctx, site.ID, segment.RunOptions{})
		if err != nil {
			return fmt.Errorf("campaign run as of %s: %w", at.Format(time.DateTime), err)
		}
		// The feeds as ad platforms fetch them just after the run.
		offers.Now = func() time.Time { return res.AsOf.Add(res.Took + time.Minute) }
		joiners, err := a.campaignJoiners(ctx, router, site, res, c)
		if err != nil {
			return err
		}
		until := at.Add(campaignEvery)
		if until.After(prev.Anchor) {
			until = prev.Anchor
		}
		visitors, orders := demo.Respond(seed, k, at, until, joiners)
		opts := demo.Options{PlanOptions: demo.PlanOptions{Seed: seed, Now: at}, BaseURL: base, WriteKey: demo.WriteKey, Log: a.log}
		if _, err := demo.Send(ctx, visitors, opts); err != nil {
			return err
		}
		if err := a.waitOrders(ctx, fmt.Sprintf("C%d-%%", k), len(visitors)); err != nil {
			return err
		}
		n, err := demo.ReportOrders(ctx, nil, base, site.AdminToken, orders)
		if err != nil {
			return err
		}
		responders, ordered, reported = responders+len(visitors), ordered+len(orders), reported+n
	}
	a.printf("campaign: %d segment runs as of every third day before the traffic's end; %d members came back and bought, %d of them through an ad with an offer (%d reported by the checkout too) in %s\n",
		campaignRuns, responders, ordered, reported, time.Since(start).Round(time.Millisecond))
	return demo.Record(ctx, a.db, demo.Site, demo.PlanOptions{Seed: seed, Now: prev.Anchor}, demo.Stats{}, "campaign")
}

// campaignJoiners are the persons who joined an audience in run res, each
// with the feed item of their top recommendation (else the feed's first).
func (a *app) campaignJoiners(ctx context.Context, router http.Handler, site config.Site, res segment.RunResult, c *demo.Catalog) ([]demo.Joiner, error) {
	// Who joined in this run, with their top recommendation.
	rows, err := a.db.Query(ctx, `SELECT audience, visitor_id, user_id, grp, product_id
		FROM (
			SELECT audience, visitor_id, user_id, grp FROM seg_member_joins WHERE site = ? AND run_id = ?
		) AS joins ANY LEFT JOIN (
			SELECT audience, visitor_id, product_id FROM v_visitor_recommendations WHERE site = ? AND rank = 1
		) AS recs USING (audience, visitor_id)
		ORDER BY audience, visitor_id`, site.ID, res.RunID, site.ID)
	if err != nil {
		return nil, fmt.Errorf("campaign: cannot read the joins: %w", err)
	}
	defer rows.Close()
	feedsByAudience := map[string]map[string]demo.FeedItem{}
	firstItem := map[string]demo.FeedItem{}
	var out []demo.Joiner
	for rows.Next() {
		var j demo.Joiner
		var product string
		if err := rows.Scan(&j.Audience, &j.VisitorID, &j.UserID, &j.Group, &product); err != nil {
			return nil, err
		}
		items, ok := feedsByAudience[j.Audience]
		if !ok {
			var first demo.FeedItem
			if items, first, err = campaignFeed(router, site, j.Audience); err != nil {
				return nil, err
			}
			feedsByAudience[j.Audience], firstItem[j.Audience] = items, first
		}
		item, ok := items[product]
		if !ok {
			item = firstItem[j.Audience]
		}
		if item.ID == "" {
			continue
		}
		out = append(out, c.JoinerFrom(j, item, a.cfg.Feeds.OfferParam))
	}
	return out, rows.Err()
}

// campaignFeed fetches an audience's feed.json from the feeds handler.
func campaignFeed(router http.Handler, site config.Site, audience string) (map[string]demo.FeedItem, demo.FeedItem, error) {
	w := httptest.NewRecorder()
	router.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/feeds/"+url.PathEscape(site.ID)+"/"+audience+"/feed.json?token="+url.QueryEscape(site.FeedToken), nil))
	if w.Code != http.StatusOK {
		return nil, demo.FeedItem{}, fmt.Errorf("campaign: feed of %s answered %d: %s", audience, w.Code, strings.TrimSpace(w.Body.String()))
	}
	var feed struct{ Items []demo.FeedItem }
	if err := json.Unmarshal(w.Body.Bytes(), &feed); err != nil {
		return nil, demo.FeedItem{}, err
	}
	items := map[string]demo.FeedItem{}
	var first demo.FeedItem
	for i, it := range feed.Items {
		if i == 0 {
			first = it
		}
		items[it.ID] = it
	}
	return items, first, nil
}

// waitOrders polls until want orders with ids like pattern are stored.
func (a *app) waitOrders(ctx context.Context, pattern string, want int) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var n uint64
		// The campaign's stored orders of one run.
		if err := a.db.QueryRow(ctx, `SELECT uniqExact(order_id) FROM v_events WHERE site = ? AND type = 'purchase' AND order_id LIKE ?`, demo.Site, pattern).Scan(&n); err != nil {
			return err
		}
		if int(n) >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("campaign: only %d of %d orders reached ClickHouse", n, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// printOutcomes shows each audience's lift and its offers' redemptions.
func (a *app) printOutcomes(ctx context.Context, site string) error {
	engine := segment.New(a.cfg, a.db, a.log)
	defs, err := engine.Definitions(ctx, site)
	if err != nil {
		return err
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].Name < defs[j].Name })
	a.printf("  Outcomes: members who bought within the attribution window after joining, treated (shown ads) vs held out:\n")
	for _, d := range defs {
		r, err := engine.LiftReport(ctx, site, d.Name, false)
		if err != nil {
			return err
		}
		var redemptions uint64
		var discount float64
		for _, s := range r.Redemptions {
			redemptions, discount = redemptions+s.Redemptions, discount+s.Discount
		}
		lift := "—"
		if r.Absolute != nil {
			lift = fmt.Sprintf("%+.1f pp (95%% %+.1f to %+.1f)", 100*r.Absolute.Value, 100**r.Absolute.Low, 100**r.Absolute.High)
		}
		plural := "s"
		if redemptions == 1 {
			plural = ""
		}
		a.printf("    %-22s treated %5.1f%% of %4d, held out %5.1f%% of %3d, lift %-28s %d redemption%s, %.2f discount: %s\n",
			d.Name, 100*rate(r.Treatment), r.Treatment.Members, 100*rate(r.Holdout), r.Holdout.Members, lift, redemptions, plural, discount, r.Verdict)
		if r.Verdict == segment.VerdictTooSmall {
			a.printf("      %s\n", r.Message)
		}
	}
	return nil
}

func rate(g segment.GroupStats) float64 {
	if g.ConversionRate == nil {
		return 0
	}
	return g.ConversionRate.Value
}
