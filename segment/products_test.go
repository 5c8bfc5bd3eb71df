package segment_test

import (
	"context"
	"testing"

	"github.com/remarket/remarket/internal/chtest"
)

// The product snapshot's statistics come from the profiles pass: views
// and buyers count visitors (not events), units add every purchase line's
// quantity (at least 1), and bots and opted-out visitors count for
// nothing. The best seller gets its motivation from them.
func TestProductStatisticsCountVisitorsAndUnits(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db, product("a", "A", "Bikes", 100), product("b", "B", "Bikes", 120), product("c", "C", "Bikes", 90))
	insertEvents(t, db,
		ev{vid: "v1", ago: 3 * day, typ: "product_view", pid: "a"},
		ev{vid: "v1", ago: 2 * day, typ: "product_view", pid: "a"},
		ev{vid: "v1", ago: 2 * day, typ: "product_view", pid: "b"},
		ev{vid: "v2", ago: 3 * day, typ: "product_view", pid: "a"},
		ev{vid: "v2", ago: 2 * day, typ: "purchase", items: []string{"a", "c"}, qty: 2},
		ev{vid: "v3", ago: 2 * day, typ: "purchase", pid: "a"},
		ev{vid: "v3", ago: 1 * day, typ: "purchase", pid: "a", qty: 3},
		ev{vid: "bot", ago: 1 * day, typ: "purchase", pid: "b", qty: 50, bot: true},
		ev{vid: "gone", ago: 1 * day, typ: "product_view", pid: "b", optedOut: true},
	)
	e := newEngine(t, db, testConfig(t))
	res := run(t, e)

	type stats struct {
		views, buyers, units uint64
		motivation           string
	}
	want := map[string]stats{
		"a": {views: 2, buyers: 2, units: 2 + 1 + 3, motivation: "bestseller"},
		"b": {views: 1},
		"c": {buyers: 1, units: 2},
	}
	rows, err := db.Query(context.Background(), `SELECT product_id, views, buyers, units, motivation FROM seg_products
		WHERE site = ? AND run_id = ? AND known = 1`, site, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]stats{}
	for rows.Next() {
		var id string
		var s stats
		if err := rows.Scan(&id, &s.views, &s.buyers, &s.units, &s.motivation); err != nil {
			t.Fatal(err)
		}
		got[id] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("product %s: %+v, want %+v", id, got[id], w)
		}
	}
}
