package segment_test

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

// pick is the first id prefix-N whose person key ("v:" or "u:" + id) is
// in group for audience at percent.
func pick(prefix, kind, audience, group string, percent float64) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if segment.HoldoutGroup(holdoutKey, site, audience, kind+id, percent) == group {
			return id
		}
	}
}

// order is a purchase event with an order id and revenue, in USD unless
// cur names another currency.
type order struct {
	vid, uid, id string
	at           time.Time
	revenue      float64
	cur          string
}

func insertOrders(t *testing.T, db *chdb.DB, os ...order) {
	t.Helper()
	b, err := db.PrepareBatch(context.Background(), `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id,
		user_id, product_id, order_id, revenue, currency)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range os {
		if err := b.Append(site, uuid.New(), o.at, o.at, "purchase", o.vid, o.uid, "bag", o.id, o.revenue, cmp.Or(o.cur, "USD")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

type outcome struct {
	members, converters, orders, redemptions uint64
	revenue, revenueSq, discount             float64
	complete                                 uint8
}

func outcomes(t *testing.T, db *chdb.DB, audience string) map[string]outcome {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT toString(day_joined), grp, members, converters, orders, redemptions,
		revenue, revenue_sq, discount_cost, complete FROM v_audience_outcomes WHERE site = ? AND audience = ?`, site, audience)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]outcome{}
	for rows.Next() {
		var day, grp string
		var o outcome
		if err := rows.Scan(&day, &grp, &o.members, &o.converters, &o.orders, &o.redemptions, &o.revenue, &o.revenueSq, &o.discount, &o.complete); err != nil {
			t.Fatal(err)
		}
		out[day+" "+grp] = o
	}
	return out
}

// TestOutcomesCountPurchasesWithinTheWindowAfterJoining: a fixture with
// known answers. Members join at t0; the attribution window is 7 days.
func TestOutcomesCountPurchasesWithinTheWindowAfterJoining(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	half := 50.0
	aud := viewers("viewers", &half)
	aud.AttributionWindow = config.Duration(7 * day)
	t0 := now.Add(-10 * day)
	t1, t2, t3 := pick("t", "v:", "viewers", segment.Treatment, half), pick("tt", "v:", "viewers", segment.Treatment, half), pick("ttt", "v:", "viewers", segment.Treatment, half)
	h1, h2 := pick("h", "v:", "viewers", segment.Holdout, half), pick("hh", "v:", "viewers", segment.Holdout, half)
	user := pick("user", "u:", "viewers", segment.Treatment, half)
	late := pick("late", "v:", "viewers", segment.Holdout, half)
	var evs []ev
	for _, v := range []string{t1, t2, t3, h1, h2} {
		evs = append(evs, ev{vid: v, ago: 11 * day, typ: "product_view", pid: "cam250d"})
	}
	evs = append(evs,
		ev{vid: "phone", uid: user, ago: 11 * day, typ: "product_view", pid: "cam250d"},
		ev{vid: late, ago: day, typ: "product_view", pid: "cam250d"},
	)
	insertEvents(t, db, evs...)
	insertOrders(t, db,
		order{vid: t1, id: "before", at: t0.Add(-day), revenue: 999}, // before joining
		order{vid: t1, id: "A", at: t0.Add(day), revenue: 100},       // counts
		order{vid: t1, id: "B", at: t0.Add(2 * day), revenue: 20},    // counts: 2 orders, 120
		order{vid: t2, id: "C", at: t0.Add(8 * day), revenue: 70},    // after the window
		order{vid: t3, id: "D", at: t0.Add(2 * day), revenue: 50},    // sent twice: one order
		order{vid: t3, id: "D", at: t0.Add(2*day + time.Minute), revenue: 50},
		order{vid: "laptop", uid: user, id: "E", at: t0.Add(3 * day), revenue: 40}, // the user's other device
		order{vid: h1, id: "F", at: t0.Add(3 * day), revenue: 30},
		order{vid: late, id: "G", at: now.Add(-day / 2), revenue: 10}, // joined at now: after, not in
	)
	// A page view of t2, re-sent later as a purchase under the same id:
	// the copy received first is the event, so no order (the copies stay
	// unmerged, as until a merge).
	if err := db.Exec(context.Background(), "SYSTEM STOP MERGES events"); err != nil {
		t.Fatal(err)
	}
	resent := uuid.New()
	for _, c := range []struct {
		typ     string
		at      time.Time
		revenue float64
	}{{"purchase", t0.Add(2*day + time.Minute), 500}, {"page_view", t0.Add(2 * day), 0}} {
		if err := db.InsertRow(context.Background(), `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, order_id, revenue, currency)`,
			site, resent, c.at, c.at, c.typ, t2, "R", c.revenue, "USD"); err != nil {
			t.Fatal(err)
		}
	}
	// Redemptions: t1's order A of this audience (counts), one of another audience (does not).
	for _, r := range []struct {
		order, audience string
		discount        float64
	}{{"A", "viewers", 10}, {"B", "other", 99}} {
		if err := db.InsertRow(context.Background(), `INSERT INTO offer_redemptions (site, order_id, product_id, audience, visitor_id,
			redeemed_at, quantity, revenue, discount, source, version)`, site, r.order, "bag", r.audience, t1, t0.Add(day), uint32(1), 100.0, r.discount, "api", uint64(1)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(t, aud)
	cfg.HoldoutKey = holdoutKey
	e := newEngine(t, db, cfg)
	e.Now = func() time.Time { return t0 }
	run(t, e)
	e.Now = func() time.Time { return now }
	run(t, e)

	day0, today := t0.Format(time.DateOnly), now.Format(time.DateOnly)
	want := map[string]outcome{
		// t1 (2 orders, 120, redeemed 10), t2 (none in the window), t3 (1 order, 50), user (1 order, 40).
		day0 + " treatment": {members: 4, converters: 3, orders: 4, redemptions: 1, revenue: 210, revenueSq: 120*120 + 50*50 + 40*40, discount: 10, complete: 1},
		day0 + " holdout":   {members: 2, converters: 1, orders: 1, revenue: 30, revenueSq: 900, complete: 1},
		today + " holdout":  {members: 1},
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
	if rep.Treatment.Members != 4 || rep.Holdout.Members != 3 || rep.Treatment.Converters != 3 || rep.Verdict != segment.VerdictTooSmall ||
		len(rep.Days) != 2 || !rep.Days[0].Complete || rep.Days[1].Complete || rep.DiscountCost != 10 || rep.AttributionWindow != "7d" {
		t.Errorf("lift report %+v", rep)
	}
	// The report's lift is the known answer for 3 of 4 against 1 of 3,
	// and a group of 3 is too small to conclude anything: it says so.
	if d, lo, hi := segment.Newcombe(3, 4, 1, 3); rep.Absolute == nil || rep.Absolute.Value != d || *rep.Absolute.Low != lo || *rep.Absolute.High != hi {
		t.Errorf("absolute lift %+v, want %g (%g, %g)", rep.Absolute, d, lo, hi)
	}
	if !strings.HasPrefix(rep.Message, "Too few people to conclude anything: 4 treated and 3 held-out members") {
		t.Errorf("message %q", rep.Message)
	}
	if len(rep.Redemptions) != 1 || rep.Redemptions[0].Discount != 10 || len(rep.History) != 2 {
		t.Errorf("redemptions %+v, history %+v", rep.Redemptions, rep.History)
	}
	if done, _ := e.LiftReport(context.Background(), site, "viewers", true); len(done.Days) != 1 || done.Holdout.Members != 2 {
		t.Errorf("complete days only: %+v", done.Days)
	}
	if _, err := e.LiftReport(context.Background(), site, "ghost", false); err != segment.ErrNoAudience {
		t.Errorf("unknown audience: %v", err)
	}
	// The history keeps each run's totals.
	var runs, members uint64
	if err := db.QueryRow(context.Background(), `SELECT uniqExact(run_id), sumIf(members, run_time = ?) FROM v_audience_outcome_history
		WHERE site = ? AND audience = 'viewers'`, now, site).Scan(&runs, &members); err != nil || runs != 2 || members != 7 {
		t.Errorf("history: %d runs, %d members in the last (%v); want 2 and 7", runs, members, err)
	}
}
