package segment_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
)

func TestInterestsDecayWithHalfLife(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db,
		product("p1", "One", "Cameras > DSLR", 100),
		product("p2", "Two", "Cameras > DSLR", 100),
		product("p3", "Three", "Cameras > Lenses", 100),
	)
	insertEvents(t, db,
		ev{vid: "v", ago: 1 * day, typ: "product_view", pid: "p1"},
		ev{vid: "v", ago: 20 * day, typ: "product_view", pid: "p2"},
		ev{vid: "v", ago: 30 * day, typ: "product_view", pid: "p3"},
		ev{vid: "v", ago: 30 * day, typ: "product_view", pid: "p3"},
		ev{vid: "v", ago: 30 * day, typ: "product_view", pid: "p3"},
	)
	run(t, newEngine(t, db, testConfig(t)))

	// Default weights (product_view 1) and half-life 14 days.
	want := map[string]float64{
		"p1":               math.Pow(2, -1.0/14),
		"p2":               math.Pow(2, -20.0/14),
		"p3":               3 * math.Pow(2, -30.0/14),
		"Cameras":          math.Pow(2, -1.0/14) + math.Pow(2, -20.0/14) + 3*math.Pow(2, -30.0/14),
		"Cameras > DSLR":   math.Pow(2, -1.0/14) + math.Pow(2, -20.0/14),
		"Cameras > Lenses": 3 * math.Pow(2, -30.0/14),
	}
	got, keys := scores(t, db, "SELECT key, score FROM v_visitor_interests WHERE site = ? AND visitor_id = 'v' ORDER BY score DESC", site)
	wantScores(t, got, want)
	var order []string
	for _, k := range keys {
		if k[0] == 'p' {
			order = append(order, k)
		}
	}
	// One recent view beats three old ones; an old single view is last.
	if len(order) != 3 || order[0] != "p1" || order[1] != "p3" || order[2] != "p2" {
		t.Errorf("product order = %v, want [p1 p3 p2]", order)
	}
}

func TestStageTransitions(t *testing.T) {
	cases := []struct {
		name  string
		steps []string // event types for product x, oldest first
		want  string
	}{
		{"view", []string{"product_view"}, "browsed"},
		{"view-cart", []string{"product_view", "add_to_cart"}, "carted"},
		{"checkout", []string{"product_view", "add_to_cart", "checkout"}, "carted"},
		{"view-cart-buy", []string{"product_view", "add_to_cart", "purchase"}, "purchased"},
		{"cart-remove", []string{"add_to_cart", "remove_from_cart"}, "browsed"},
		{"remove-recart", []string{"add_to_cart", "remove_from_cart", "add_to_cart"}, "carted"},
		{"buy-recart", []string{"purchase", "add_to_cart"}, "carted"},
		{"buy-view", []string{"purchase", "product_view"}, "purchased"},
	}
	db := chtest.MustOpen(t)
	putProducts(t, db, product("x", "X", "A > B", 10))
	var evs []ev
	for _, c := range cases {
		for i, typ := range c.steps {
			evs = append(evs, ev{vid: c.name, ago: day - 3600*1e9*timeD(i), typ: typ, pid: "x"})
		}
	}
	insertEvents(t, db, evs...)
	run(t, newEngine(t, db, testConfig(t)))
	for _, c := range cases {
		got := strings1(t, db, "SELECT stage FROM v_visitor_interests WHERE site = ? AND kind = 'product' AND visitor_id = ?", site, c.name)
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: stage = %v, want %s", c.name, got, c.want)
		}
	}
}

func TestCustomerTypeAndPriceBand(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db,
		product("cheap", "Cheap", "A", 10), product("mid", "Mid", "A", 100), product("dear", "Dear", "A", 1000))
	insertEvents(t, db,
		ev{vid: "trait", ago: day, typ: "identify", traits: `{"customer_type":"Professional","email":" Ann@Example.COM "}`},
		ev{vid: "trait", ago: day, typ: "product_view", pid: "dear"},
		ev{vid: "bulk", ago: day, typ: "purchase", pid: "cheap", qty: 12},
		ev{vid: "single", ago: day, typ: "purchase", pid: "mid", qty: 1},
		ev{vid: "single", ago: 2 * day, typ: "page_view", uid: "u-old"},
		ev{vid: "single", ago: day / 2, typ: "page_view", uid: "u-new"},
		ev{vid: "single", ago: day / 4, typ: "page_view"},
		ev{vid: "company", ago: day, typ: "identify", traits: `{"company":"Salon Ltd"}`},
		// Segment's reserved company trait is an object; an empty one says nothing.
		ev{vid: "segment-company", ago: day, typ: "identify", traits: `{"company":{"employee_count":12,"name":"Salon Ltd"}}`},
		ev{vid: "empty-company", ago: day, typ: "identify", traits: `{"name":"Ann","company":{}}`},
		// Ingest writes top-level plain values first: this email is the person's.
		ev{vid: "nested-email", ago: day, typ: "identify", traits: `{"email":"Top@Example.com","address":{"email":"post@example.com"}}`},
		ev{vid: "override", ago: day, typ: "identify", traits: `{"customer_type":"consumer"}`},
		ev{vid: "override", ago: day, typ: "purchase", pid: "cheap", qty: 50},
	)
	run(t, newEngine(t, db, testConfig(t)))
	want := map[string][2]string{
		"trait":           {"professional", "high"},
		"bulk":            {"professional", "low"},
		"single":          {"consumer", "mid"},
		"company":         {"professional", ""},
		"segment-company": {"professional", ""},
		"empty-company":   {"consumer", ""},
		"override":        {"consumer", "low"},
	}
	for vid, w := range want {
		got := strings1(t, db, "SELECT concat(customer_type, '|', price_band) FROM v_visitor_profiles WHERE site = ? AND visitor_id = ?", site, vid)
		if len(got) != 1 || got[0] != w[0]+"|"+w[1] {
			t.Errorf("%s: customer_type|price_band = %v, want %s|%s", vid, got, w[0], w[1])
		}
	}
	// SHA-256 of "ann@example.com" (trimmed, lower-cased).
	h := strings1(t, db, "SELECT email_sha256 FROM v_visitor_profiles WHERE site = ? AND visitor_id = 'trait'", site)
	if len(h) != 1 || h[0] != sha("ann@example.com") {
		t.Errorf("email_sha256 = %v", h)
	}
	if h := strings1(t, db, "SELECT email_sha256 FROM v_visitor_profiles WHERE site = ? AND visitor_id = 'nested-email'", site); len(h) != 1 || h[0] != sha("top@example.com") {
		t.Errorf("nested-email: email_sha256 = %v, want the hash of top@example.com", h)
	}
	// The latest user id wins, even over a later event without one.
	if u := strings1(t, db, "SELECT user_id FROM v_visitor_profiles WHERE site = ? AND visitor_id = 'single'", site); len(u) != 1 || u[0] != "u-new" {
		t.Errorf("user_id = %v, want u-new", u)
	}
}

// List views (product-less lines with a category) count towards the
// category's interest under its normalised path, one row per category,
// also for a category no catalog product has (and one spelled like a
// product id); an unknown product counts under the category its events
// gave.
func TestListViewsCountTowardsTheirCategory(t *testing.T) {
	db := chtest.MustOpen(t)
	// A product id may read like a category name: "Film" is both here.
	putProducts(t, db, product("p1", "One", "Cameras > DSLR", 100), product("Film", "Film camera", "Cameras > DSLR", 100))
	insertEvents(t, db,
		ev{vid: "v", ago: day, typ: "product_view", pid: "Film"},
		ev{vid: "v", ago: day, typ: "product_list_view", category: "Cameras>Lenses"},
		ev{vid: "v", ago: day, typ: "product_list_view", category: "Cameras  >  Lenses"},
		ev{vid: "v", ago: day, typ: "product_list_view", category: "Cameras > DSLR"},
		ev{vid: "v", ago: day, typ: "product_list_view", category: "Film"},
		ev{vid: "v", ago: day, typ: "product_view", pid: "p1"},
		ev{vid: "v", ago: day, typ: "product_view", pid: "gone", category: "Film > Rolls"},
		ev{vid: "w", ago: day, typ: "product_list_view", category: "Film"},
	)
	run(t, newEngine(t, db, testConfig(t)))
	d := math.Pow(2, -1.0/14)
	want := map[string]float64{
		"v|Cameras > Lenses": 2 * 0.2 * d,
		"v|Cameras > DSLR":   0.2*d + 2*d,
		"v|Cameras":          3*0.2*d + 2*d,
		"v|Film":             0.2*d + d,
		"v|Film > Rolls":     d,
		"w|Film":             0.2 * d,
	}
	got, _ := scores(t, db, "SELECT concat(visitor_id, '|', key), score FROM v_visitor_interests WHERE site = ? AND kind = 'category'", site)
	if len(got) != len(want) {
		t.Errorf("category interests = %v, want %v", got, want)
	}
	wantScores(t, got, want)
}

// scores runs a query of (key, score) rows: the scores by key, and the
// keys in the query's order.
func scores(t *testing.T, db *chdb.DB, q string, args ...any) (map[string]float64, []string) {
	t.Helper()
	rows, err := db.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]float64{}
	var keys []string
	for rows.Next() {
		var k string
		var s float64
		if err := rows.Scan(&k, &s); err != nil {
			t.Fatal(err)
		}
		got[k] = s
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got, keys
}

// wantScores reports every wanted score that got misses by more than 1e-9.
func wantScores(t *testing.T, got, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-9 {
			t.Errorf("score %s = %v, want %v", k, got[k], w)
		}
	}
}

// An event stored twice counts once, as the copy FINAL keeps (the one
// received first), whether or not its copies carry order lines: the
// lines with items are read apart from the others (lines.sql), so a
// later copy with items must not add its lines to a kept copy without.
func TestAnEventCountsOnceWhateverItsCopiesCarry(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db,
		product("p1", "One", "A > B", 10),
		product("p2", "Two", "A > B", 10),
		product("p3", "Three", "A > C", 10),
	)
	at := now.Add(-day)
	plain := func(vid string) ev { return ev{vid: vid, typ: "product_view", pid: "p1"} }
	order := func(vid string, items ...string) ev {
		return ev{vid: vid, typ: "purchase", items: items, qty: 1}
	}
	copies := func(vid string, first, later ev) []stored {
		id := uuid.New()
		return []stored{{id, at, first}, {id, at.Add(10 * time.Second), later}}
	}
	cases := []struct {
		vid          string
		first, later ev
		want         []string
	}{
		{"plain-first", plain("plain-first"), order("plain-first", "p2", "p3"), []string{"p1"}},
		{"items-first", order("items-first", "p2", "p3"), plain("items-first"), []string{"p2", "p3"}},
		{"both-items", order("both-items", "p2"), order("both-items", "p3"), []string{"p2"}},
	}
	// Unmerged, as the copies of a re-sent event are until a merge
	// collapses them: FINAL must pick one.
	if err := db.Exec(context.Background(), "SYSTEM STOP MERGES events"); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		// The later copy is inserted first: FINAL goes by when a copy was
		// received, not by the order of inserts.
		cs := copies(c.vid, c.first, c.later)
		insertStored(t, db, cs[1])
		insertStored(t, db, cs[0])
	}
	run(t, newEngine(t, db, testConfig(t)))
	for _, c := range cases {
		got := strings1(t, db, "SELECT key FROM v_visitor_interests WHERE site = ? AND kind = 'product' AND visitor_id = ? ORDER BY key", site, c.vid)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: products %v, want %v", c.vid, got, c.want)
		}
	}
}
