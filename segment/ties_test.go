package segment_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
)

// A visitor's interests answer in one order on every server and every
// call: by score, and equal scores by key. Ties are the common case: every
// level of a category path holds the same interest rows, so a visitor of
// one product has as many equal category scores as the path has levels,
// and products viewed in the same second score alike. Sorting by score
// alone left them in the order the grouping produced them, which is a
// hash table's: 18.16 and 26.x answered them differently.
func TestVisitorInterestsAnswerTiesInOneOrder(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db,
		product("zoom", "Zoom", "Photo > Lenses > Zoom > Tele", 300),
		product("prime", "Prime", "Photo > Lenses > Prime > Wide", 300),
		product("tripod", "Tripod", "Photo > Support > Tripods > Carbon", 300),
		product("bag", "Bag", "Bags > Shoulder > Leather > Brown", 300),
	)
	// One view each, in one second: every product scores the same.
	insertEvents(t, db,
		ev{vid: "v1", ago: 2 * day, typ: "product_view", pid: "zoom"},
		ev{vid: "v1", ago: 2 * day, typ: "product_view", pid: "prime"},
		ev{vid: "v1", ago: 2 * day, typ: "product_view", pid: "tripod"},
		ev{vid: "v1", ago: 2 * day, typ: "product_view", pid: "bag"},
	)
	api, call := serveAPI(t, db, testConfig(t))
	run(t, api.Engine())
	code, body := call("GET", "/api/sites/shop/visitors/v1/interests", "")
	if code != 200 {
		t.Fatalf("interests: %d %s", code, body)
	}
	var out struct {
		Categories []struct {
			Key   string  `json:"key"`
			Score float64 `json:"score"`
		} `json:"categories"`
		Products []struct {
			Key   string  `json:"key"`
			Score float64 `json:"score"`
		} `json:"products"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	var cats, prods []string
	for _, c := range out.Categories {
		cats = append(cats, c.Key)
	}
	for _, p := range out.Products {
		prods = append(prods, p.Key)
	}
	// "Photo" holds three products; "Photo > Lenses" two; every other
	// category one, as every product does.
	wantCats := []string{"Photo", "Photo > Lenses",
		"Bags", "Bags > Shoulder", "Bags > Shoulder > Leather", "Bags > Shoulder > Leather > Brown",
		"Photo > Lenses > Prime", "Photo > Lenses > Prime > Wide", "Photo > Lenses > Zoom", "Photo > Lenses > Zoom > Tele",
		"Photo > Support", "Photo > Support > Tripods", "Photo > Support > Tripods > Carbon"}
	if !slices.Equal(cats, wantCats) {
		t.Errorf("categories in the order\n  %s\nwant\n  %s", strings.Join(cats, " | "), strings.Join(wantCats, " | "))
	}
	if want := []string{"bag", "prime", "tripod", "zoom"}; !slices.Equal(prods, want) {
		t.Errorf("products in the order %v, want %v", prods, want)
	}
}

// A time window longer than the time since 1970 ("since: 36500d", a
// hundred years, meaning "ever") reaches back to 1970 on every server.
// The bound was toDateTime(now − span): ClickHouse 18.16 wraps a time
// before 1970 round to the 2060s (so the window held nobody), current
// servers stop at 1970 (everybody): the same audience was empty on one
// and full on the other.
func TestWindowsLongerThanTheEpochReachBackTo1970(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db, ev{vid: "v1", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"})
	zero := 0.0
	century := config.Duration(36500 * day)
	auds := []config.Audience{
		{Name: "carted_ever", Strategy: config.Reminder, HoldoutPercent: &zero,
			Include: []config.Condition{{Stage: config.Carted, Since: century}}},
		{Name: "cart_events_ever", Strategy: config.Reminder, HoldoutPercent: &zero,
			Include: []config.Condition{{Events: []string{"add_to_cart"}, Since: century}}},
		{Name: "long_window", Strategy: config.Reminder, HoldoutPercent: &zero, Window: century,
			Include: []config.Condition{{Stage: config.Carted}}},
	}
	run(t, newEngine(t, db, testConfig(t, auds...)))
	for _, a := range auds {
		if got := members(t, db, a.Name); !slices.Equal(got, []string{"v1"}) {
			t.Errorf("%s = %v, want [v1]", a.Name, got)
		}
	}
}
