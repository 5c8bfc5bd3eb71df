package segment_test

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
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

// A product is new from its launch date to 30 days on, as the date goes
// in UTC, as every other day of a run does (the day a person joined):
// "today" was the server's time zone's date, so a run at 20:00 UTC on a
// server in Tokyo (05:00 the next day there) already called tomorrow's
// launch new, and one in UTC did not. Needs a server that takes a
// session time zone (ClickHouse 23.6 and later).
func TestNewProductsGoByTheUTCDate(t *testing.T) {
	probe := chtest.MustOpen(t)
	if !probe.Version.AtLeast(23, 6) {
		t.Skipf("ClickHouse %s has no session_timezone; its server time zone is the test's UTC", probe.Version)
	}
	db := chtest.Open(t, chtest.WithSettings(chtest.DSN(t), "session_timezone=Asia/Tokyo"))
	// 20:00 UTC on May 19: already May 20 in Tokyo.
	at := time.Date(2024, 5, 19, 20, 0, 0, 0, time.UTC)
	launch := func(d time.Time) func(*catalog.Product) { return func(p *catalog.Product) { p.LaunchDate = d } }
	putProducts(t, db,
		product("tomorrow", "Launches May 20", "Cameras", 100, launch(time.Date(2024, 5, 20, 0, 0, 0, 0, time.UTC))),
		product("today", "Launched May 19", "Cameras", 100, launch(time.Date(2024, 5, 19, 0, 0, 0, 0, time.UTC))),
		product("edge", "Launched April 19, 30 days before", "Cameras", 100, launch(time.Date(2024, 4, 19, 0, 0, 0, 0, time.UTC))),
		product("old", "Launched April 18", "Cameras", 100, launch(time.Date(2024, 4, 18, 0, 0, 0, 0, time.UTC))),
	)
	e := newEngine(t, db, testConfig(t))
	e.Now = func() time.Time { return at }
	run(t, e)
	got := strings1(t, db, "SELECT concat(product_id, ':', motivation) FROM seg_products WHERE site = ? AND known = 1 AND run_id IN (SELECT argMax(run_id, switched) FROM seg_current WHERE site = ?) ORDER BY product_id", site, site)
	if want := []string{"edge:new", "old:", "today:new", "tomorrow:"}; !slices.Equal(got, want) {
		t.Errorf("motivations %v, want %v", got, want)
	}
}

// Of a related product's rows (one per kind that found it), the one
// marked best (the policy's input, 11_related_best) is its first kind in
// kind order. It was the first in the order the server grouped the kinds,
// which differs between servers and runs (the copy to seg_related_best
// is the same from every row, but seg_related is the analysts' table).
func TestTheBestRowOfARelatedProductIsItsFirstKind(t *testing.T) {
	db := chtest.MustOpen(t)
	cameraCatalog(t, db)
	insertEvents(t, db, cameraShop(t)...)
	run(t, newEngine(t, db, testConfig(t)))
	order := []string{"declared", "co_view", "co_purchase", "category_fallback", "bestseller"}
	rows := strings1(t, db, `SELECT concat(product_id, '>', related_id, ':', arrayStringConcat(groupArray(kind), ','), ':', arrayStringConcat(groupArrayIf(kind, best = 1), ','))
		FROM seg_related WHERE site = ? GROUP BY product_id, related_id HAVING countIf(best = 1) > 0 AND count() > 1`, site)
	if len(rows) == 0 {
		t.Fatal("no related product with a best row and several kinds: nothing to check")
	}
	for _, r := range rows {
		parts := strings.Split(r, ":")
		kinds, best := strings.Split(parts[1], ","), parts[2]
		first := ""
		for _, k := range order {
			if slices.Contains(kinds, k) {
				first = k
				break
			}
		}
		if best != first {
			t.Errorf("%s: kinds %v, best row %q, want %q", parts[0], kinds, best, first)
		}
	}
}

// Two runs on the same events give the same interest scores, to the
// bit. A score sums a product's lines, which come from two reads (events
// with items and without) in whatever order the server's threads finish
// them; added in that order, the same lines could sum to scores a last
// bit apart in two runs, enough to reorder two equal interests.
func TestTwoRunsGiveTheSameScoresToTheBit(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	var evs []ev
	for i := range 40 {
		v := "v" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		evs = append(evs,
			ev{vid: v, ago: timeD(i+1) * 37 * time.Minute, typ: "product_view", pid: "cam250d"},
			ev{vid: v, ago: timeD(i+1) * 23 * time.Minute, typ: "add_to_cart", items: []string{"cam250d", "lens50"}},
			ev{vid: v, ago: timeD(i+1) * 11 * time.Minute, typ: "checkout", items: []string{"cam250d", "lens50"}},
			ev{vid: v, ago: timeD(i+1) * 7 * time.Minute, typ: "product_view", pid: "lens50"},
			ev{vid: v, ago: timeD(i+1) * 5 * time.Minute, typ: "product_view", pid: "cam250d"},
		)
	}
	insertEvents(t, db, evs...)
	sameInEveryRun(t, db, "scores", `SELECT concat(toString(vh), ' ', toString(ph), ' ', toString(score))
		FROM seg_interests WHERE site = ? AND run_id = ? ORDER BY vh, ph`)
}

// Two runs on the same events give the same average prices, to the bit
// (the price band compares them with the catalog's terciles).
func TestTwoRunsGiveTheSameAveragePricesToTheBit(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db,
		product("a", "A", "Cameras", 19.99), product("b", "B", "Cameras", 5.49),
		product("c", "C", "Cameras", 7.33), product("d", "D", "Cameras", 0.1))
	var evs []ev
	for i := range 40 {
		v := "v" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		evs = append(evs,
			ev{vid: v, ago: timeD(i+1) * 37 * time.Minute, typ: "product_view", pid: "a"},
			ev{vid: v, ago: timeD(i+1) * 23 * time.Minute, typ: "add_to_cart", items: []string{"b", "c"}},
			ev{vid: v, ago: timeD(i+1) * 11 * time.Minute, typ: "checkout", items: []string{"d", "a"}},
			ev{vid: v, ago: timeD(i+1) * 7 * time.Minute, typ: "product_view", pid: "d"},
			ev{vid: v, ago: timeD(i+1) * 5 * time.Minute, typ: "product_view", pid: "c"},
		)
	}
	insertEvents(t, db, evs...)
	sameInEveryRun(t, db, "average prices", `SELECT concat(visitor_id, ' ', toString(avg_price), ' ', price_band)
		FROM seg_profiles WHERE site = ? AND run_id = ? ORDER BY visitor_id`)
}

// sameInEveryRun makes six full runs on the same events and fails when
// query (rows as text; the site and the run id bound) answers another
// way for any of them than for the first.
func sameInEveryRun(t *testing.T, db *chdb.DB, what, query string) {
	t.Helper()
	e := newEngine(t, db, testConfig(t))
	var first []string
	for n := range 6 {
		res, err := e.Run(context.Background(), site, segment.RunOptions{Full: true})
		if err != nil {
			t.Fatal(err)
		}
		got := strings1(t, db, query, site, res.RunID)
		if n == 0 {
			first = got
			continue
		}
		if !slices.Equal(got, first) {
			diff := max(len(got), len(first)) - min(len(got), len(first))
			for i := range min(len(got), len(first)) {
				if got[i] != first[i] {
					diff++
				}
			}
			t.Fatalf("run %d: %d of %d %s differ from the first run's", n+1, diff, len(first), what)
		}
	}
}

// A visitor's average price is exact whatever the prices: a catalog may
// price a product at 10^14 (nothing bounds it), and a sum of millionths
// in 64 bits overflowed at one such line (10^20) and wrapped round.
func TestAveragePricesOfLargePrices(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db, product("big", "Big", "Yachts", 1e14), product("small", "Small", "Yachts", 19.99))
	insertEvents(t, db,
		ev{vid: "v1", ago: 3 * time.Hour, typ: "product_view", pid: "big"},
		ev{vid: "v1", ago: 2 * time.Hour, typ: "product_view", pid: "big"},
		ev{vid: "v1", ago: time.Hour, typ: "product_view", pid: "small"},
		ev{vid: "v2", ago: time.Hour, typ: "product_view", pid: "small"},
		ev{vid: "v2", ago: time.Hour / 2, typ: "add_to_cart", items: []string{"small"}},
	)
	res, err := newEngine(t, db, testConfig(t)).Run(context.Background(), site, segment.RunOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"v1": (2e14 + 19.99) / 3, "v2": 19.99}
	for vid, w := range want {
		var got float64
		if err := db.QueryRow(context.Background(), "SELECT avg_price FROM seg_profiles WHERE site = ? AND run_id = ? AND visitor_id = ?",
			site, res.RunID, vid).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-w) > 1e-9*w {
			t.Errorf("%s: average price %v, want %v", vid, got, w)
		}
	}
}
