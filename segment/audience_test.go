package segment_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

func members(t *testing.T, db *chdb.DB, audience string) []string {
	t.Helper()
	return strings1(t, db, "SELECT visitor_id FROM v_audience_members WHERE site = ? AND audience = ? ORDER BY visitor_id", site, audience)
}

func shopCatalog(t *testing.T, db *chdb.DB) {
	putProducts(t, db,
		product("cam250d", "Canon EOS 250D", "Cameras > DSLR", 500),
		product("cam90d", "Canon EOS 90D", "Cameras > DSLR", 700),
		product("lens50", "Canon EF 50mm f/1.8", "Cameras > Lenses", 250),
		product("bag", "Camera bag", "Accessories > Bags", 50),
	)
}

func TestCartAbandonersExcludeBuyersBotsAndOptedOut(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db,
		ev{vid: "abandoner", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"},
		ev{vid: "buyer", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"},
		ev{vid: "buyer", ago: 2 * day, typ: "purchase", pid: "cam250d"},
		ev{vid: "too_fresh", ago: day / 4, typ: "add_to_cart", pid: "cam250d"},
		ev{vid: "too_old", ago: 9 * day, typ: "add_to_cart", pid: "cam250d"},
		ev{vid: "opted_out", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"},
		ev{vid: "opted_out", ago: 2 * day, typ: "page_view", optedOut: true},
		ev{vid: "opted_back_in", ago: 4 * day, typ: "page_view", optedOut: true},
		ev{vid: "opted_back_in", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"},
		ev{vid: "bot", ago: 3 * day, typ: "add_to_cart", pid: "cam250d", bot: true},
	)
	run(t, newEngine(t, db, testConfig(t, segment.Templates()...)))
	got := members(t, db, "cart_abandoners")
	if !slices.Equal(got, []string{"abandoner", "opted_back_in"}) {
		t.Errorf("cart_abandoners = %v, want [abandoner opted_back_in]", got)
	}
	// The reminder names the product; an upsell follows it.
	recs := strings1(t, db, "SELECT concat(toString(rank), ':', strategy, ':', reason) FROM v_visitor_recommendations WHERE site = ? AND audience = 'cart_abandoners' AND visitor_id = 'abandoner' ORDER BY rank", site)
	if len(recs) < 2 || recs[0] != "1:reminder:Still in your cart: Canon EOS 250D" || recs[1] != "2:upsell:Upgrade from Canon EOS 250D" {
		t.Errorf("abandoner's recommendations = %v", recs)
	}
	for _, a := range []string{"cart_abandoners", "viewed_not_bought", "recent_buyers", "category_enthusiasts", "lapsed_customers", "professional_buyers"} {
		for _, bad := range []string{"opted_out", "bot"} {
			if slices.Contains(members(t, db, a), bad) {
				t.Errorf("%s has member %s", a, bad)
			}
		}
	}
}

func TestBoughtItemsAreNeverRecommended(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db,
		// owner bought the 90D a month ago and now looks at the 250D:
		// the 90D is the 250D's only upsell, but never for them.
		ev{vid: "owner", ago: 30 * day, typ: "purchase", pid: "cam90d"},
		ev{vid: "owner", ago: day, typ: "product_view", pid: "cam250d"},
		ev{vid: "newcomer", ago: day, typ: "product_view", pid: "cam250d"},
	)
	run(t, newEngine(t, db, testConfig(t, segment.Templates()...)))
	owner := strings1(t, db, "SELECT product_id FROM v_visitor_recommendations WHERE site = ? AND visitor_id = 'owner'", site)
	if slices.Contains(owner, "cam90d") {
		t.Errorf("owner is recommended the 90D they bought: %v", owner)
	}
	newcomer := strings1(t, db, "SELECT product_id FROM v_visitor_recommendations WHERE site = ? AND visitor_id = 'newcomer' AND audience = 'viewed_not_bought' ORDER BY rank", site)
	if len(newcomer) == 0 || newcomer[0] != "cam90d" {
		t.Errorf("newcomer's list = %v, want the 90D first (upsell before cross-sell)", newcomer)
	}
	if !slices.Equal(members(t, db, "viewed_not_bought"), []string{"newcomer", "owner"}) {
		t.Errorf("viewed_not_bought = %v", members(t, db, "viewed_not_bought"))
	}
}

// An injection attempt through every field that carries a value stays a
// literal and matches nothing, while the same audience with real values
// matches (so the test can fail).
func TestAudienceDefinitionCannotInjectSQL(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db,
		ev{vid: "v", ago: day, typ: "identify", traits: `{"plan":"gold"}`},
		ev{vid: "v", ago: day, typ: "product_view", pid: "cam250d"},
	)
	evil := "x' OR 1=1 --"
	evilAudiences := []config.Audience{
		{Name: "evil_category", Strategy: "upsell", Include: []config.Condition{{Events: []string{"product_view"}, Categories: []string{evil}}}},
		{Name: "evil_product", Strategy: "upsell", Include: []config.Condition{{Events: []string{"product_view"}, Products: []string{evil}}}},
		{Name: "evil_trait", Strategy: "upsell", Include: []config.Condition{{Traits: map[string]string{"plan": evil}}}},
		{Name: "evil_type", Strategy: "upsell", Include: []config.Condition{{CustomerType: evil}}},
		{Name: "evil_score", Strategy: "upsell", Include: []config.Condition{{MinScore: 0.1, Categories: []string{`Cameras') OR ('1'='1`}}}},
		{Name: "evil_backslash", Strategy: "upsell", Include: []config.Condition{{Events: []string{"product_view"}, Products: []string{`\' OR 1=1 --`}}}},
	}
	good := []config.Audience{
		{Name: "good_category", Strategy: "upsell", Include: []config.Condition{{Events: []string{"product_view"}, Categories: []string{"Cameras"}}}},
		{Name: "good_trait", Strategy: "upsell", Include: []config.Condition{{Traits: map[string]string{"plan": "gold"}}}},
	}
	res := run(t, newEngine(t, db, testConfig(t, append(evilAudiences, good...)...)))
	for _, a := range evilAudiences {
		if res.Sizes[a.Name] != 0 {
			t.Errorf("%s has %d members, want 0", a.Name, res.Sizes[a.Name])
		}
	}
	for _, a := range good {
		if res.Sizes[a.Name] != 1 {
			t.Errorf("%s has %d members, want 1", a.Name, res.Sizes[a.Name])
		}
	}
	var n uint64
	if err := db.QueryRow(context.Background(), "SELECT count() FROM events").Scan(&n); err != nil || n != 2 {
		t.Errorf("events table: %d rows, %v", n, err)
	}
}

// A reader during a run sees the previous snapshot; a failed run leaves
// it serving.
func TestRunSwitchesAtomically(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db, ev{vid: "first", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"})
	e := newEngine(t, db, testConfig(t, segment.Templates()...))
	first := run(t, e)

	insertEvents(t, db, ev{vid: "second", ago: 2 * day, typ: "add_to_cart", pid: "cam90d"})
	var during []string
	var duringRun []string
	e.SetBeforeSwitch(func(ctx context.Context, _, runID string) error {
		during = members(t, db, "cart_abandoners")
		duringRun = strings1(t, db, "SELECT run_id FROM v_segment_runs WHERE site = ? AND is_current = 1", site)
		// The new run's rows are all written by now.
		var n uint64
		db.QueryRow(ctx, "SELECT count() FROM seg_members WHERE run_id = ? AND audience = 'cart_abandoners'", runID).Scan(&n)
		if n != 2 {
			t.Errorf("new run wrote %d cart_abandoners before the switch, want 2", n)
		}
		return nil
	})
	second := run(t, e)
	if !slices.Equal(during, []string{"first"}) || !slices.Equal(duringRun, []string{first.RunID}) {
		t.Errorf("during the run readers saw %v of run %v, want [first] of %s", during, duringRun, first.RunID)
	}
	if got := members(t, db, "cart_abandoners"); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("after the run: %v", got)
	}

	boom := errors.New("boom")
	e.SetBeforeSwitch(func(context.Context, string, string) error { return boom })
	insertEvents(t, db, ev{vid: "third", ago: 2 * day, typ: "add_to_cart", pid: "cam90d"})
	if _, err := e.Run(context.Background(), site, segment.RunOptions{}); !errors.Is(err, boom) {
		t.Fatalf("failing run: err = %v", err)
	}
	if got := members(t, db, "cart_abandoners"); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("after a failed run readers see %v, want the previous run's [first second]", got)
	}
	status := strings1(t, db, "SELECT concat(status, ':', toString(is_current)) FROM v_segment_runs WHERE site = ? ORDER BY run_id", site)
	if !slices.Equal(status, []string{"ok:0", "ok:1", "failed:0"}) {
		t.Errorf("runs = %v", status)
	}
	_ = second
	// History keeps every successful run's sizes.
	sizes := strings1(t, db, "SELECT toString(size) FROM v_audience_sizes WHERE site = ? AND audience = 'cart_abandoners' ORDER BY run_time, run_id", site)
	if !slices.Equal(sizes, []string{"1", "2"}) {
		t.Errorf("size history = %v, want [1 2]", sizes)
	}
}

func TestReminderSaysBackInStock(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db, product("cam250d", "Canon EOS 250D", "Cameras > DSLR", 500, outOfStock),
		product("cam90d", "Canon EOS 90D", "Cameras > DSLR", 700))
	insertEvents(t, db, ev{vid: "v", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"})
	e := newEngine(t, db, testConfig(t, segment.Templates()...))
	run(t, e)
	reasons := func() []string {
		return strings1(t, db, "SELECT reason FROM v_visitor_recommendations WHERE site = ? AND visitor_id = 'v' AND audience = 'cart_abandoners' AND strategy = 'reminder'", site)
	}
	if got := reasons(); len(got) != 0 {
		t.Errorf("out of stock, yet reminded: %v", got)
	}
	putProducts(t, db, product("cam250d", "Canon EOS 250D", "Cameras > DSLR", 500))
	run(t, e)
	if got := reasons(); !slices.Equal(got, []string{"Back in stock: Canon EOS 250D"}) {
		t.Errorf("after restock: %v", got)
	}
	run(t, e)
	if got := reasons(); !slices.Equal(got, []string{"Still in your cart: Canon EOS 250D"}) {
		t.Errorf("a run later: %v", got)
	}

	// A product the catalog lacked was not out of stock: when it joins,
	// the cart it is in is still a cart.
	insertEvents(t, db, ev{vid: "v", ago: day, typ: "add_to_cart", pid: "film9"})
	run(t, e)
	putProducts(t, db, product("film9", "Film Nine", "Cameras > Film", 35))
	run(t, e)
	if got := reasons(); !slices.Contains(got, "Still in your cart: Film Nine") || slices.Contains(got, "Back in stock: Film Nine") {
		t.Errorf("after the product in the cart joined the catalog: %v", got)
	}
}

// Interest conditions are evaluated only for the visitors a profile
// condition of the same audience lets through; every include must still
// hold on its own.
func TestScoreAndEventConditionsMustBothHold(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	var evs []ev
	for i := 0; i < 5; i++ {
		evs = append(evs,
			ev{vid: "both", ago: day, typ: "product_view", pid: "cam250d"},
			ev{vid: "views_only", ago: day, typ: "product_view", pid: "bag"})
	}
	evs = append(evs,
		ev{vid: "both", ago: day, typ: "purchase", pid: "lens50"},
		ev{vid: "score_only", ago: day, typ: "purchase", pid: "cam250d"},
		ev{vid: "score_only", ago: day, typ: "purchase", pid: "cam90d"},
		ev{vid: "score_only", ago: day, typ: "product_view", pid: "cam90d"})
	insertEvents(t, db, evs...)
	fans := config.Audience{Name: "camera_fans", Strategy: "upsell", Include: []config.Condition{
		{MinScore: 8, Categories: []string{"Cameras"}},
		{Events: []string{"product_view"}, Since: config.Duration(30 * 24 * time.Hour), MinCount: 5},
	}}
	run(t, newEngine(t, db, testConfig(t, fans)))
	if got := members(t, db, "camera_fans"); !slices.Equal(got, []string{"both"}) {
		t.Errorf("camera_fans = %v, want [both]", got)
	}
}

// Membership needs every include; with the most an audience may have, the
// last one still decides.
func TestEveryOfTheMostIncludesMustHold(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db,
		ev{vid: "viewer", ago: day, typ: "product_view", pid: "cam250d"},
		ev{vid: "buyer", ago: day, typ: "product_view", pid: "cam250d"},
		ev{vid: "buyer", ago: day, typ: "purchase", pid: "bag"})
	many := config.Audience{Name: "many", Strategy: "cross_sell"}
	for i := 0; i < config.MaxIncludes-1; i++ {
		many.Include = append(many.Include, config.Condition{Events: []string{"product_view"}, Since: config.Duration(time.Duration(i+2) * day)})
	}
	many.Include = append(many.Include, config.Condition{Events: []string{"purchase"}})
	run(t, newEngine(t, db, testConfig(t, many)))
	if got := members(t, db, "many"); !slices.Equal(got, []string{"buyer"}) {
		t.Errorf("many = %v, want [buyer]", got)
	}
}

// A run of one audience recomputes it and carries every other audience's
// members and lists over, so the new snapshot is complete.
func TestSingleAudienceRunCarriesTheOthersOver(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db, append(cameraShop(t),
		ev{vid: "viewer", ago: day, typ: "product_view", pid: "cam250d"},
		ev{vid: "carter", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"},
		ev{vid: "buyer", ago: 20 * day, typ: "purchase", pid: "cam250d"})...)
	e := newEngine(t, db, testConfig(t, segment.Templates()...))
	first := run(t, e)
	snapshot := func() []string {
		return strings1(t, db, `SELECT concat(audience, '|', visitor_id, '|', toString(rank), '|', product_id, '|', reason)
			FROM v_visitor_recommendations WHERE site = ? ORDER BY audience, visitor_id, rank`, site)
	}
	before := snapshot()
	for _, a := range []string{"cart_abandoners", "recent_buyers", "viewed_not_bought"} {
		if !slices.ContainsFunc(before, func(r string) bool { return strings.HasPrefix(r, a+"|") }) {
			t.Fatalf("the fixture gives %s no recommendations: %v", a, before)
		}
	}
	res, err := e.Run(context.Background(), site, segment.RunOptions{Audience: "cart_abandoners"})
	if err != nil {
		t.Fatal(err)
	}
	if res.RunID == first.RunID {
		t.Fatal("no new run")
	}
	if after := snapshot(); !slices.Equal(after, before) {
		t.Errorf("recommendations after a cart_abandoners run:\n%v\nwant the same as before:\n%v", after, before)
	}
	for name, n := range first.Sizes {
		if res.Sizes[name] != n {
			t.Errorf("%s: %d members after the single-audience run, %d before", name, res.Sizes[name], n)
		}
	}
	if _, err := e.Run(context.Background(), site, segment.RunOptions{Audience: "nobody"}); err == nil {
		t.Error("a run of an unknown audience succeeded")
	}
}

// A window, since or until reaching before 1970 (30000 days is 82
// years; the pinned clock is 54 years after 1970) means "ever": 18.16
// wrapped its bound round to 2106, which emptied the first three
// audiences and made the exclude exclude everyone.
func TestWindowsReachingBefore1970MeanEver(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db,
		ev{vid: "v1", ago: 3 * day, typ: "product_view", pid: "cam250d"},
		ev{vid: "v1", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"},
	)
	long := config.Duration(30000 * day)
	auds := []config.Audience{
		{Name: "window_long", Strategy: config.Upsell, Window: long, Include: []config.Condition{{Events: []string{"product_view"}}}},
		{Name: "since_long", Strategy: config.Upsell, Include: []config.Condition{{Events: []string{"product_view"}, Since: long}}},
		{Name: "stage_since_long", Strategy: config.Upsell, Include: []config.Condition{{Stage: config.Carted, Since: long}}},
		{Name: "until_long_exclude", Strategy: config.Upsell, Include: []config.Condition{{Events: []string{"product_view"}}},
			Exclude: []config.Condition{{Events: []string{"add_to_cart"}, Until: config.Duration(25000 * day)}}},
	}
	run(t, newEngine(t, db, testConfig(t, auds...)))
	for _, a := range auds {
		if got := members(t, db, a.Name); !slices.Equal(got, []string{"v1"}) {
			t.Errorf("%s = %v, want [v1]", a.Name, got)
		}
	}
}
