package segment_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

// TestOutcomesCountAHumanOnce: a visitor who joins anonymously and signs
// in later joins again as their user, in the other group; the outcomes
// count them once, in the group and on the day of their first join. One
// order that the snippet sends anonymously and the shop's server under
// the user counts once for the audience. A purchase in the second of
// joining was made before the person could be targeted: not an outcome.
func TestOutcomesCountAHumanOnce(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	half := 50.0
	aud := viewers("viewers", &half)
	t0, t1 := now.Add(-10*day), now.Add(-8*day)
	// anon joins as v:anon (holdout), signs in as signed, whose u: key is
	// treated. buyer (anonymous) and shopper (a user on device "desk")
	// are two persons as far as anyone can tell, both treated; one order
	// carries both. edge (held out) buys in the second it joins.
	anon := pick("anon", "v:", "viewers", segment.Holdout, half)
	signed := pick("signed", "u:", "viewers", segment.Treatment, half)
	buyer := pick("buyer", "v:", "viewers", segment.Treatment, half)
	shopper := pick("shopper", "u:", "viewers", segment.Treatment, half)
	edge := pick("edge", "v:", "viewers", segment.Holdout, half)
	insertEvents(t, db,
		ev{vid: anon, ago: 11 * day, typ: "product_view", pid: "cam250d"},
		ev{vid: buyer, ago: 11 * day, typ: "product_view", pid: "cam250d"},
		ev{vid: "desk", uid: shopper, ago: 11 * day, typ: "product_view", pid: "cam250d"},
		ev{vid: edge, ago: 11 * day, typ: "product_view", pid: "cam250d"},
		ev{vid: anon, uid: signed, ago: 9 * day, typ: "page_view"}, // signs in
	)
	insertOrders(t, db,
		order{vid: anon, uid: signed, id: "P", at: t1.Add(day), revenue: 80},
		order{vid: anon, id: "P", at: t1.Add(day + time.Minute), revenue: 80}, // the same order, sent again without the user
		order{vid: buyer, id: "Q", at: t0.Add(day), revenue: 30},
		order{vid: "desk", uid: shopper, id: "Q", at: t0.Add(day + time.Second), revenue: 30},
		order{vid: edge, id: "E", at: t0, revenue: 999},
	)
	cfg := testConfig(t, aud)
	cfg.HoldoutKey = holdoutKey
	e := newEngine(t, db, cfg)
	for _, at := range []time.Time{t0, t1, now} {
		e.Now = func() time.Time { return at }
		run(t, e)
	}
	// Both keys of anon are recorded, each in its own group.
	var persons, groups uint64
	if err := db.QueryRow(context.Background(), `SELECT uniqExact(person), uniqExact(grp) FROM seg_member_joins
		WHERE site = ? AND audience = 'viewers' AND (person = ? OR person = ?)`, site, "v:"+anon, "u:"+signed).Scan(&persons, &groups); err != nil || persons != 2 || groups != 2 {
		t.Fatalf("joins of the visitor who signed in: %d persons in %d groups (%v); want 2 in 2", persons, groups, err)
	}

	day0 := t0.Format(time.DateOnly)
	want := map[string]outcome{
		// buyer and shopper; order Q once.
		day0 + " treatment": {members: 2, converters: 1, orders: 1, revenue: 30, revenueSq: 900, complete: 0},
		// anon (as signed in: order P once) and edge (nothing after joining).
		day0 + " holdout": {members: 2, converters: 1, orders: 1, revenue: 80, revenueSq: 6400, complete: 0},
	}
	got := outcomes(t, db, "viewers")
	if len(got) != len(want) {
		t.Errorf("outcome rows %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %+v, want %+v", k, got[k], w)
		}
	}
	rep, err := e.LiftReport(context.Background(), site, "viewers", false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Treatment.Members+rep.Holdout.Members != 4 || rep.Treatment.Orders+rep.Holdout.Orders != 2 {
		t.Errorf("lift report counts %d members and %d orders, want 4 and 2", rep.Treatment.Members+rep.Holdout.Members,
			rep.Treatment.Orders+rep.Holdout.Orders)
	}
}

// TestOutcomesCompleteIsTheDays: a day is complete for both its groups
// at once, when the windows of everyone who could join that day have
// ended, however its joiners fell into the groups.
func TestOutcomesCompleteIsTheDays(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	half := 50.0
	aud := viewers("viewers", &half)
	aud.AttributionWindow = config.Duration(7 * day)
	t0 := now.Add(-10 * day) // 12:00 UTC
	tr := pick("t", "v:", "viewers", segment.Treatment, half)
	ho := pick("h", "v:", "viewers", segment.Holdout, half)
	later := pick("later", "v:", "viewers", segment.Treatment, half)
	insertEvents(t, db,
		ev{vid: tr, ago: 11 * day, typ: "product_view", pid: "cam250d"},
		ev{vid: ho, ago: 11 * day, typ: "product_view", pid: "cam250d"},
		ev{vid: later, ago: 10*day - 3*time.Hour, typ: "product_view", pid: "cam250d"},
	)
	cfg := testConfig(t, aud)
	cfg.HoldoutKey = holdoutKey
	e := newEngine(t, db, cfg)
	day0 := t0.Format(time.DateOnly)
	// Runs at 12:00 and 18:00 of day0: the holdout's last joined at
	// 12:00, the treatment's at 18:00. A week and three hours after
	// 12:00, neither is complete (the day's last possible window is
	// open); after the day's end and a week, both are.
	for _, c := range []struct {
		at       time.Time
		complete uint8
	}{{t0, 0}, {t0.Add(6 * time.Hour), 0}, {t0.Add(7*day + 3*time.Hour), 0}, {t0.Add(7*day + 12*time.Hour), 1}} {
		e.Now = func() time.Time { return c.at }
		run(t, e)
		got := outcomes(t, db, "viewers")
		for _, grp := range []string{segment.Treatment, segment.Holdout} {
			if o, ok := got[day0+" "+grp]; !ok || o.complete != c.complete {
				t.Errorf("as of %s, %s of %s: %+v (found %v), want complete %d", c.at.Format(time.DateTime), grp, day0, o, ok, c.complete)
			}
		}
		rep, err := e.LiftReport(context.Background(), site, "viewers", true)
		if err != nil {
			t.Fatal(err)
		}
		if n := rep.Treatment.Members + rep.Holdout.Members; (c.complete == 1) != (n == 3) || (c.complete == 0 && n != 0) {
			t.Errorf("as of %s, complete days only: %d treated and %d held out", c.at.Format(time.DateTime), rep.Treatment.Members, rep.Holdout.Members)
		}
	}
}

// TestLiftReportKeepsCurrenciesApart: revenue in two currencies is not
// compared as one amount, and redemptions are summed per currency; the
// report reads what the current run saw as of its time, and of two runs
// of one time the history keeps the later.
func TestLiftReportKeepsCurrenciesApart(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	half := 50.0
	aud := viewers("viewers", &half)
	t0 := now.Add(-10 * day)
	tr := pick("t", "v:", "viewers", segment.Treatment, half)
	ho := pick("h", "v:", "viewers", segment.Holdout, half)
	insertEvents(t, db,
		ev{vid: tr, ago: 11 * day, typ: "product_view", pid: "cam250d"},
		ev{vid: ho, ago: 11 * day, typ: "product_view", pid: "cam250d"},
	)
	redeemed := func(order, cur string, at time.Time) {
		t.Helper()
		if err := db.InsertRow(context.Background(), `INSERT INTO offer_redemptions (site, order_id, product_id, audience, rule_key, visitor_id,
			redeemed_at, quantity, revenue, discount, currency, source, version)`, site, order, "bag", "viewers", "k", tr, at,
			uint32(1), 100.0, 10.0, cur, "api", uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	insertOrders(t, db, order{vid: tr, id: "A", at: t0.Add(day), revenue: 100, cur: "EUR"})
	redeemed("A", "EUR", t0.Add(day))
	redeemed("D", "USD", now.Add(time.Hour)) // after the runs' time
	cfg := testConfig(t, aud)
	cfg.HoldoutKey = holdoutKey
	e := newEngine(t, db, cfg)
	e.Now = func() time.Time { return t0 }
	run(t, e)
	e.Now = func() time.Time { return now }
	run(t, e)
	rep, err := e.LiftReport(context.Background(), site, "viewers", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Currencies) != 1 || rep.Currencies[0] != "EUR" || rep.IncrementalRevenue == nil || strings.Contains(rep.Message, "currencies") {
		t.Errorf("one currency: %v, incremental revenue %+v, message %q", rep.Currencies, rep.IncrementalRevenue, rep.Message)
	}
	if len(rep.Redemptions) != 1 || rep.Redemptions[0].Currency != "EUR" {
		t.Errorf("redemptions by the run's time %+v, want A's in EUR", rep.Redemptions)
	}

	// The holdout buys in USD, and another redemption of the same rule
	// and product is in USD: a run of the same time sees both.
	insertOrders(t, db, order{vid: ho, id: "B", at: t0.Add(day), revenue: 100, cur: "USD"})
	redeemed("C", "USD", t0.Add(day))
	run(t, e)
	if rep, err = e.LiftReport(context.Background(), site, "viewers", false); err != nil {
		t.Fatal(err)
	}
	if len(rep.Currencies) != 2 || rep.Currencies[0] != "EUR" || rep.Currencies[1] != "USD" || rep.IncrementalRevenue != nil ||
		!strings.Contains(rep.Message, "several currencies (EUR, USD)") {
		t.Errorf("two currencies: %v, incremental revenue %+v, message %q", rep.Currencies, rep.IncrementalRevenue, rep.Message)
	}
	byCur := map[string]segment.RedemptionSummary{}
	for _, s := range rep.Redemptions {
		byCur[s.Currency] = s
	}
	if len(rep.Redemptions) != 2 || byCur["EUR"].Redemptions != 1 || byCur["USD"].Redemptions != 1 || byCur["USD"].Discount != 10 {
		t.Errorf("redemptions %+v, want one in EUR and one in USD", rep.Redemptions)
	}
	if n := len(rep.History); n != 2 || !rep.History[n-1].RunTime.Equal(now) || rep.History[n-1].Holdout.Converters != 1 {
		t.Errorf("history %+v, want today's from the last run (a held-out converter)", rep.History)
	}
}
