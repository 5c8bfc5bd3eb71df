package segment_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/privacy"
	"github.com/remarket/remarket/segment"
)

// traffic makes n random events of the given visitors between from and
// to: views, list views, carts, removals and purchases of the catalog's
// products and of one product the catalog lacks.
func traffic(r *rand.Rand, visitors []string, n int, from, to time.Time) []stored {
	products := []string{"c1", "c2", "c3", "l1", "l2", "t1", "t2", "t3", "unknown-9"}
	types := []string{"product_view", "product_view", "product_view", "product_list_view", "add_to_cart", "add_to_cart", "remove_from_cart", "checkout", "purchase"}
	var out []stored
	for range n {
		e := ev{vid: visitors[r.IntN(len(visitors))], typ: types[r.IntN(len(types))], pid: products[r.IntN(len(products))], qty: 1}
		switch e.typ {
		case "product_list_view":
			e.pid, e.category = "", []string{"Cameras > DSLR", "Cameras > Lenses", "Tripods"}[r.IntN(3)]
		case "purchase":
			if r.IntN(3) == 0 {
				e.items, e.pid = []string{e.pid, products[r.IntN(len(products))]}, ""
			}
			e.qty = uint32(1 + r.IntN(12))
		}
		if e.pid == "unknown-9" {
			e.category = "Cameras > Film"
		}
		at := from.Add(time.Duration(r.Int64N(int64(to.Sub(from)))))
		out = append(out, stored{id: uuid.New(), at: at.Truncate(time.Second), ev: e})
	}
	return out
}

func incrementalProducts() []catalog.Product {
	return []catalog.Product{
		product("c1", "Camera One", "Cameras > DSLR", 300),
		product("c2", "Camera Two", "Cameras > DSLR", 500),
		product("c3", "Camera Three", "Cameras > DSLR", 800),
		product("l1", "Lens One", "Cameras > Lenses", 150),
		product("l2", "Lens Two", "Cameras > Lenses", 400),
		product("t1", "Tripod One", "Tripods", 40, variantOf("tripod")), // t1 and t2 are variants:
		product("t2", "Tripod Two", "Tripods", 90, variantOf("tripod")), // related only if declared
		product("t3", "Tripod Three", "Tripods", 60, outOfStock),
		product("b1", "Bag One", "Bags", 30),   // no random traffic names it
		product("b2", "Bag Two", "Bags", 45),   // nor this one
		product("b3", "Bag Three", "Bags", 55), // nor this one
	}
}

func incrementalCatalog(t *testing.T, db *chdb.DB) {
	putProducts(t, db, incrementalProducts()...)
}

func names(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

// incrementalConfig has the template audiences and two with event
// windows, so windows that pass over old events between runs are tested.
func incrementalConfig(t *testing.T) config.Config {
	days := func(n int) config.Duration { return config.Duration(time.Duration(n) * day) }
	return testConfig(t, append(segment.Templates(),
		config.Audience{Name: "viewed_twice_lately", Strategy: "upsell",
			Include: []config.Condition{{Events: []string{"product_view"}, Since: days(3), MinCount: 2}}},
		config.Audience{Name: "bought_a_while_ago", Strategy: "cross_sell",
			Include: []config.Condition{{Events: []string{"purchase"}, Since: days(40), Until: days(2)}},
			Exclude: []config.Condition{{Events: []string{"add_to_cart"}, Since: days(1)}}},
	)...)
}

// incrementalEngine is an engine whose runs start right after the
// inserts before them (no insert margin) and stay incremental whatever
// share of the events is new and however many visitors a change of the
// catalog reaches.
func incrementalEngine(t *testing.T, db *chdb.DB, cfg config.Config) *segment.Engine {
	t.Helper()
	cfg.Segments.IncrementalMaxNewEventsPercent = 100
	cfg.Segments.IncrementalMaxCatalogReachPercent = 100
	e := newEngine(t, db, cfg)
	e.SetInsertMargin(0)
	return e
}

// incRun runs at the given time and checks the mode it ran in.
func incRun(t *testing.T, e *segment.Engine, at time.Time, full bool, wantMode string) segment.RunResult {
	t.Helper()
	e.Now = func() time.Time { return at }
	res, err := e.Run(context.Background(), site, segment.RunOptions{Full: full})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != wantMode {
		t.Fatalf("run at %s: mode %s (%s), want %s", at, res.Mode, res.Reason, wantMode)
	}
	return res
}

// forget erases a subject as the API does, to the end.
func forget(t *testing.T, cfg config.Config, db *chdb.DB, s privacy.Subject) {
	t.Helper()
	if res, err := privacy.NewEraser(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil))).Erase(context.Background(), s, "test"); err != nil || res.Status != "done" {
		t.Fatalf("erase %+v: %+v %v", s, res, err)
	}
}

// feedAPI is the feeds API on db with its clock at at, closed when the
// test ends.
func feedAPI(t *testing.T, cfg config.Config, db *chdb.DB, at time.Time) *feeds.API {
	t.Helper()
	api := feeds.NewAPI(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(api.Close)
	api.Now = func() time.Time { return at }
	return api
}

// readRun reads what a run shows users, its feeds included: the run must
// be the current one.
func readRun(t *testing.T, cfg config.Config, db *chdb.DB, res segment.RunResult, at time.Time) runcheck.Snapshot {
	t.Helper()
	api := feedAPI(t, cfg, db, at)
	runcheck.PinFinish(t, db, site, res.RunID, at)
	return runcheck.Read(t, cfg, db, api, res.Mode, site, res.RunID)
}

// After batches of every kind (new and returning visitors, late events,
// retries of stored events, opt-out and back, an opt-out that stays,
// identifies, a future-dated
// event, an erasure, windows passing over old events, a failed run), an
// incremental run shows users exactly what a full run on the same events
// shows: every row of every view and every feed.
func TestIncrementalRunEqualsFullRun(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	incrementalCatalog(t, db)
	cfg := incrementalConfig(t)
	e := incrementalEngine(t, db, cfg)
	r := rand.New(rand.NewPCG(15, 1))

	t0 := now
	old := names("v", 0, 40)
	history := traffic(r, old, 900, t0.Add(-60*day), t0)
	// A product the catalog lacks that no later event names.
	// Products the catalog lacks: one no later event names, and one only
	// v14, erased later, saw (it goes with v14's events).
	history = append(history,
		stored{uuid.New(), t0.Add(-10 * day), ev{vid: "v20", typ: "product_view", pid: "unknown-5", category: "Old > Stock"}},
		stored{uuid.New(), t0.Add(-9 * day), ev{vid: "v14", typ: "product_view", pid: "unknown-3", category: "Private > Stuff"}},
		// Only v38, who sends nothing later, sees the second and third
		// bags.
		stored{uuid.New(), t0.Add(-20 * day), ev{vid: "v38", typ: "product_view", pid: "b2"}},
		stored{uuid.New(), t0.Add(-20 * day), ev{vid: "v38", typ: "product_view", pid: "b3"}},
		// A camera the catalog gets later: v21 views it, v27 buys it
		// with a lens (v27 sends nothing later).
		stored{uuid.New(), t0.Add(-5 * day), ev{vid: "v21", typ: "product_view", pid: "c25", category: "Cameras > DSLR"}},
		stored{uuid.New(), t0.Add(-4 * day), ev{vid: "v27", typ: "purchase", items: []string{"c25", "l2"}, qty: 1}})
	insertStored(t, db, history...)
	time.Sleep(time.Second) // insert times are seconds: the run must start after them
	first := incRun(t, e, t0, false, segment.ModeFull)
	if first.Reason != "no previous run" {
		t.Errorf("first run's reason = %q", first.Reason)
	}

	// Batch 1, six hours later: returning and new visitors, a late event
	// dated a month back, a retry of a stored event, an opt-out, an
	// identify, and an event dated after the next run.
	t1 := t0.Add(6 * time.Hour)
	// Retries whose content differs: one keeps having no order lines, one
	// gets some (the event lines read those apart, see lines.sql).
	plain := history[slices.IndexFunc(history, func(s stored) bool { return len(s.items) == 0 && s.pid != "" })]
	plain2 := history[slices.IndexFunc(history, func(s stored) bool { return len(s.items) == 0 && s.pid != "" && s.id != plain.id })]
	batch := traffic(r, append(names("v", 0, 6), names("n", 0, 5)...), 60, t0, t1)
	batch = append(batch,
		stored{uuid.New(), t0.Add(-30 * day), ev{vid: "v07", typ: "purchase", pid: "c2", qty: 2}},
		history[11], // a retry: the same id
		stored{plain.id, plain.at, ev{vid: plain.vid, typ: "purchase", pid: "t3", qty: 9}}, // the same id, other content
		stored{plain2.id, plain2.at, ev{vid: plain2.vid, typ: "purchase", items: []string{"t2", "l2"}, qty: 1}},
		stored{uuid.New(), t1.Add(-time.Hour), ev{vid: "v09", typ: "page_view", optedOut: true}},
		// v16 opts out and stays opted out with no further events: the
		// next incremental run does not recompute it.
		stored{uuid.New(), t1.Add(-time.Hour), ev{vid: "v16", typ: "page_view", optedOut: true}},
		stored{uuid.New(), t1.Add(-time.Hour), ev{vid: "v10", typ: "identify", uid: "u10", traits: `{"email":"ten@example.com","company":"Ten Ltd"}`}},
		stored{uuid.New(), t1.Add(30 * time.Hour), ev{vid: "v13", typ: "add_to_cart", pid: "l1", qty: 1}},
	)
	insertStored(t, db, batch...)
	inc1 := incRun(t, e, t1, false, segment.ModeIncremental)
	var total uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM seg_profiles WHERE site = ? AND run_id = ? AND opted_out = 0", site, inc1.RunID).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if inc1.Affected == 0 || inc1.Affected >= total {
		t.Errorf("the incremental run recomputed %d of %d visitors, want some, not all", inc1.Affected, total)
	}

	// Batch 2, fourteen hours later (windows move over old events): more
	// traffic, v09 consents again, v14 is erased.
	t2 := t1.Add(14 * time.Hour)
	insertStored(t, db, traffic(r, append(names("v", 20, 26), names("n", 3, 8)...), 50, t1, t2)...)
	insertStored(t, db, stored{uuid.New(), t2.Add(-time.Hour), ev{vid: "v09", typ: "product_view", pid: "c1"}})
	forget(t, cfg, db, privacy.Subject{Site: site, Kind: "visitor", ID: "v14"})
	inc2 := incRun(t, e, t2, false, segment.ModeIncremental)
	got := readRun(t, cfg, db, inc2, t2)
	full2 := incRun(t, e, t2, true, segment.ModeFull)
	want := readRun(t, cfg, db, full2, t2)
	runcheck.Compare(t, got, want)

	// A failed incremental run leaves the full run current and its
	// watermark in place: the next run still sees batch 3.
	t3 := t2.Add(5 * time.Hour)
	insertStored(t, db, traffic(r, append(names("v", 30, 34), names("n", 8, 10)...), 40, t2, t3)...)
	// Products the catalog lacks: a new one, and a greater category for
	// one seen before (its visitors' interests move to it).
	insertStored(t, db,
		stored{uuid.New(), t3.Add(-time.Hour), ev{vid: "v31", typ: "product_view", pid: "unknown-7", category: "Lenses>Macro"}},
		stored{uuid.New(), t3.Add(-time.Hour), ev{vid: "n08", typ: "product_view", pid: "unknown-9", category: "Cameras>Film>Instant"}})
	e.SetBeforeSwitch(func(context.Context, string, string) error { return errors.New("injected failure") })
	e.Now = func() time.Time { return t3 }
	if _, err := e.Run(ctx, site, segment.RunOptions{}); err == nil {
		t.Fatal("the run with a failing switch succeeded")
	}
	e.SetBeforeSwitch(nil)
	if cur, err := e.CurrentRun(ctx, site); err != nil || cur != full2.RunID {
		t.Fatalf("current run after a failed run = %s (%v), want %s", cur, err, full2.RunID)
	}
	t4 := t3.Add(time.Hour)
	insertStored(t, db, traffic(r, names("n", 10, 12), 10, t3, t4)...)
	// Only n20's baskets hold b1.
	insertStored(t, db,
		stored{uuid.New(), t4.Add(-2 * time.Minute), ev{vid: "n20", typ: "product_view", pid: "b1"}},
		stored{uuid.New(), t4.Add(-time.Minute), ev{vid: "n20", typ: "purchase", items: []string{"b1", "c1"}, qty: 1}})
	incRun(t, e, t4, false, segment.ModeIncremental)

	// Batch 5 builds on an incremental run: co-occurrence sums updated
	// twice since the last full run. Batch 3 is in it too, or the
	// comparison fails. n20 opts out: the pairs of b1 go. The catalog
	// changes: the second bag moves to another category (v38's interest
	// moves with it), and the first costs more, which moves the price
	// bands of visitors the run does not recompute (an hour after the
	// previous run, few are).
	t5 := t4.Add(time.Hour)
	insertStored(t, db, traffic(r, append(names("v", 2, 5), names("n", 11, 13)...), 20, t4, t5)...)
	putProducts(t, db, product("b1", "Bag One", "Bags", 650), product("b2", "Bag Two", "Cameras > Bags", 45))
	insertStored(t, db, stored{uuid.New(), t5.Add(-time.Minute), ev{vid: "n20", typ: "page_view", optedOut: true}})
	inc5 := incRun(t, e, t5, false, segment.ModeIncremental)
	for _, kind := range []string{"co_view", "co_purchase"} {
		if !slices.ContainsFunc(inc5.Steps, func(s segment.Step) bool { return s.Name == "07_pairs_update/"+kind+"/0" }) {
			t.Errorf("the incremental run counted the %s pairs again instead of updating them", kind)
		}
	}
	got = readRun(t, cfg, db, inc5, t5)
	full5 := incRun(t, e, t5, true, segment.ModeFull)
	runcheck.Compare(t, got, readRun(t, cfg, db, full5, t5))

	// Batch 6: products join and leave the catalog. The camera seen
	// before joins it, between two others in id order, and another
	// product no one has seen joins it ahead of all the others: every
	// product's number moves, in the baskets and pair sums the run
	// copies too. The second and third bags leave it, both in v38's
	// baskets (v38's interests go with them). And the macro lens only v31
	// has seen joins it free, in the category its event named: it is
	// the category or price of an unknown product that changed.
	t6 := t5.Add(time.Hour)
	insertStored(t, db, traffic(r, append(names("v", 5, 8), names("n", 0, 2)...), 20, t5, t6)...)
	products := []catalog.Product{product("a0", "Accessory Zero", "Cameras > Straps", 25), product("c25", "Camera Two and a Half", "Cameras > DSLR", 650),
		product("unknown-7", "Macro Seven", "Lenses > Macro", 0)}
	for _, p := range incrementalProducts() {
		switch p.ID {
		case "b1":
			products = append(products, product("b1", "Bag One", "Bags", 650))
		case "b2", "b3":
		default:
			products = append(products, p)
		}
	}
	replaceCatalog(t, db, products...)
	inc6 := incRun(t, e, t6, false, segment.ModeIncremental)
	if err := db.QueryRow(ctx, "SELECT count() FROM seg_profiles WHERE site = ? AND run_id = ? AND opted_out = 0", site, inc6.RunID).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if inc6.Affected == 0 || inc6.Affected >= total {
		t.Errorf("the run after the catalog's new products recomputed %d of %d visitors, want some, not all", inc6.Affected, total)
	}
	got = readRun(t, cfg, db, inc6, t6)
	full6 := incRun(t, e, t6, true, segment.ModeFull)
	runcheck.Compare(t, got, readRun(t, cfg, db, full6, t6))
}

// A run is full when it cannot build on the previous one, and says why.
func TestIncrementalRunFallsBackToFull(t *testing.T) {
	if underRace {
		// Deciding the mode is one goroutine's work; the runs it leads
		// to run under the detector in the other tests.
		t.Skip("the reasons for a full run: run without -race")
	}
	db := chtest.MustOpen(t)
	incrementalCatalog(t, db)
	cfg := incrementalConfig(t)
	e := incrementalEngine(t, db, cfg)
	r := rand.New(rand.NewPCG(15, 2))
	insertStored(t, db, traffic(r, names("v", 0, 10), 100, now.Add(-10*day), now)...)
	incRun(t, e, now, false, segment.ModeFull)
	incRun(t, e, now.Add(time.Hour), false, segment.ModeIncremental)

	at := now.Add(2 * time.Hour)
	reasons := []struct {
		name   string
		change func() *segment.Engine
		reason string
		cause  string
	}{
		{"asked", func() *segment.Engine { return e }, "a full run was asked for", segment.CauseAsked},
		{"gone", func() *segment.Engine {
			// The current run's profiles dropped by hand.
			ctx := context.Background()
			prev, err := e.CurrentRun(ctx, site)
			if err == nil {
				err = db.Exec(ctx, "ALTER TABLE seg_profiles DROP PARTITION @run", clickhouse.Named("run", prev))
			}
			if err != nil {
				t.Fatal(err)
			}
			return e
		}, "the previous run's rows are gone", segment.CauseRowsGone},
		{"changed during the run", func() *segment.Engine {
			// The catalog switches while the previous run computes.
			e.SetBeforeSwitch(func(context.Context, string, string) error {
				putProducts(t, db, product("c1", "Camera One", "Cameras > DSLR", 299))
				return nil
			})
			incRun(t, e, at.Add(-time.Minute), false, segment.ModeIncremental)
			e.SetBeforeSwitch(nil)
			return e
		}, "the catalog changed while the previous run computed", segment.CauseCatalogMidRun},
		{"reach", func() *segment.Engine {
			// Every visitor has seen one of the cameras.
			putProducts(t, db, product("c1", "Camera One", "Cameras > DSLR", 279))
			eng := newEngine(t, db, cfg) // the default limits
			eng.SetInsertMargin(0)
			return eng
		}, "* visitors have an interest in a product added, removed, repriced or recategorised (over 10%: segments.incremental_max_catalog_reach_percent)", segment.CauseCatalog},
		{"retention", func() *segment.Engine {
			// A late event of a year ago, seen by a run, then its month
			// dropped as retention does.
			yearAgo := now.AddDate(-1, 0, 0)
			insertStored(t, db, stored{id: uuid.New(), at: yearAgo, ev: ev{vid: "v1", typ: "product_view", pid: "c1"}})
			incRun(t, e, at.Add(-30*time.Minute), false, segment.ModeIncremental)
			dropEventsMonth(t, db, yearAgo)
			return e
		}, "the events partition 202305, a month of the site's events, was dropped (retention) since the previous run", segment.CauseRetention},
		{"stale", func() *segment.Engine { return e }, "the last full run is 1d old or more (segments.full_run_every)", segment.CausePeriodic},
		{"stale sooner", func() *segment.Engine {
			c := incrementalConfig(t)
			c.Segments.FullRunEvery = config.Duration(90 * time.Minute)
			return incrementalEngine(t, db, c)
		}, "the last full run is 1h30m0s old or more (segments.full_run_every)", segment.CausePeriodic},
		{"configured", func() *segment.Engine {
			c := incrementalConfig(t)
			c.Segments.Incremental = false
			return incrementalEngine(t, db, c)
		}, "segments.incremental is false", segment.CauseConfigured},
		{"weights", func() *segment.Engine {
			c := incrementalConfig(t)
			c.Segments.Weights["product_view"] = 2
			return incrementalEngine(t, db, c)
		}, "the interest, basket or customer-type settings, the audiences' event conditions or the run's queries changed", segment.CauseSettings},
	}
	// Each cause is counted on /metrics too.
	causes := func(cause string) float64 {
		return metric(t, "remarket_segment_full_runs_total", "site", site, "cause", cause)
	}
	for _, c := range reasons {
		eng := c.change()
		switch c.name {
		case "stale":
			incRun(t, eng, at.Add(12*time.Hour), false, segment.ModeIncremental)
			at = at.Add(25 * time.Hour)
		case "stale sooner":
			// An hour after the last full run: still incremental.
			incRun(t, eng, at, false, segment.ModeIncremental)
			at = at.Add(45 * time.Minute)
		}
		eng.Now = func() time.Time { return at }
		counted := causes(c.cause)
		res, err := eng.Run(context.Background(), site, segment.RunOptions{Full: c.name == "asked"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Cause != c.cause || causes(c.cause) != counted+1 {
			t.Errorf("%s: cause %q counted %g more times; want %q once", c.name, res.Cause, causes(c.cause)-counted, c.cause)
		}
		// A reason starting with * ends like the rest: it begins with counts.
		says := func(reason string) bool {
			suffix, counts := strings.CutPrefix(c.reason, "*")
			return reason == c.reason || counts && strings.HasSuffix(reason, suffix) && reason != suffix
		}
		if res.Mode != segment.ModeFull || !says(res.Reason) {
			t.Errorf("%s: mode %s, reason %q; want full, %q", c.name, res.Mode, res.Reason, c.reason)
		}
		var mode, reason string
		if err := db.QueryRow(context.Background(), "SELECT mode, reason FROM seg_run_state WHERE site = @site AND run_id = @run",
			clickhouse.Named("site", site), clickhouse.Named("run", res.RunID)).Scan(&mode, &reason); err != nil || mode != "full" || reason != res.Reason {
			t.Errorf("%s: seg_run_state says %s, %q (%v)", c.name, mode, reason, err)
		}
		// Each change is absorbed by the full run: the next one builds on
		// it, unless incremental runs are off.
		next := segment.ModeIncremental
		if c.cause == segment.CauseConfigured {
			next = segment.ModeFull
		}
		incRun(t, eng, at.Add(time.Minute), false, next)
		at = at.Add(time.Hour)
	}

	// More than 1% of the events new (the default): a full run is cheaper.
	incRun(t, e, at, true, segment.ModeFull) // back to e's settings
	at = at.Add(time.Hour)
	e = newEngine(t, db, cfg)
	e.SetInsertMargin(0)
	insertStored(t, db, traffic(r, names("v", 0, 10), 5, at.Add(-time.Hour), at)...)
	e.Now = func() time.Time { return at }
	res, err := e.Run(context.Background(), site, segment.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "5 of the site's 105 events were stored since the previous run (over 1%: segments.incremental_max_new_events_percent)"; res.Mode != segment.ModeFull || res.Reason != want || res.Cause != segment.CauseIncrement {
		t.Errorf("after a large increment: mode %s, cause %q, reason %q; want full, %q, %q", res.Mode, res.Cause, res.Reason, segment.CauseIncrement, want)
	}

	// With a margin for inserts in progress (2m by default), events
	// stored just before the previous run count as new: a run right after
	// a bulk load is full though nothing arrived since, and says why. The
	// margin here is an hour, longer than this test can take: with the
	// default 2m, a loaded machine that took over two minutes from the
	// first insert to the previous run left some events out of the count.
	e.SetInsertMargin(time.Hour)
	at = at.Add(time.Minute)
	e.Now = func() time.Time { return at }
	if res, err = e.Run(context.Background(), site, segment.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "105 of the site's 105 events were stored since 1h0m0s before the previous run started (over 1%: segments.incremental_max_new_events_percent)"; res.Mode != segment.ModeFull || res.Reason != want {
		t.Errorf("right after a load: mode %s, reason %q; want full, %q", res.Mode, res.Reason, want)
	}
}

// A shop whose only visitor asks to be forgotten has a previous run with
// no rows left: that is the erasure, not rows gone missing, so the next
// run still builds on it (random history seed 313 found it).
func TestIncrementalRunAfterTheOnlyVisitorIsErased(t *testing.T) {
	db := chtest.MustOpen(t)
	incrementalCatalog(t, db)
	cfg := incrementalConfig(t)
	e := incrementalEngine(t, db, cfg)
	r := rand.New(rand.NewPCG(16, 2))
	insertStored(t, db, traffic(r, []string{"v00"}, 20, now.Add(-10*day), now)...)
	incRun(t, e, now, false, segment.ModeFull)
	forget(t, cfg, db, privacy.Subject{Site: site, Kind: "visitor", ID: "v00"})
	at := now.Add(time.Hour)
	insertStored(t, db, traffic(r, []string{"v01"}, 5, now, at)...)
	time.Sleep(time.Second) // insert times are seconds: the run must start after them
	got := readRun(t, cfg, db, incRun(t, e, at, false, segment.ModeIncremental), at)
	runcheck.Compare(t, got, readRun(t, cfg, db, incRun(t, e, at, true, segment.ModeFull), at))
}

// A product the catalog lacks, and its category, come from the copy of an
// event that FINAL keeps (the first received), not from a re-sent copy
// with other content: in a full run, and in an incremental one, also when
// a copy stored later was received earlier and takes the kept copy's
// place (a replay from the spool overtaken by a client's retry).
func TestUnknownProductsComeFromTheKeptCopy(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db, product("p1", "One", "A > B", 10))
	cfg := testConfig(t)
	e := incrementalEngine(t, db, cfg)
	// Unmerged, as the copies of a re-sent event are until a merge
	// collapses them: FINAL must pick one.
	if err := db.Exec(context.Background(), "SYSTEM STOP MERGES events"); err != nil {
		t.Fatal(err)
	}
	at := now.Add(-day)
	view := func(vid, pid, category string) ev {
		return ev{vid: vid, typ: "product_view", pid: pid, category: category}
	}
	order := func(vid string, items ...string) ev { return ev{vid: vid, typ: "purchase", items: items, qty: 1} }
	// resent is an event's first copy, then one received 10 s later with
	// other content, inserted first.
	resent := func(first, later ev) []stored {
		id := uuid.New()
		return []stored{{id, at.Add(10 * time.Second), later}, {id, at, first}}
	}
	replaced := uuid.New()
	insertStored(t, db, slices.Concat(
		resent(view("other-product", "gone", "Film > Rolls"), view("other-product", "ghost", "Zoo")),
		resent(view("other-category", "gone", "Film>Rolls"), view("other-category", "gone", "Zoo > Gone")),
		resent(order("other-line", "p1"), order("other-line", "ghost-line")),
		resent(order("unknown-line", "line", "p1"), view("unknown-line", "p1", "")),
		// Kept until its earlier copy arrives, after the first run.
		[]stored{{replaced, at.Add(time.Minute), view("replaced", "stale", "Old")}},
	)...)
	unknown := func(res segment.RunResult) []string {
		return strings1(t, db, `SELECT concat(product_id, ' | ', category) FROM seg_products
			WHERE site = ? AND run_id = ? AND known = 0 ORDER BY product_id`, site, res.RunID)
	}
	time.Sleep(time.Second) // insert times are seconds: the run must start after them
	first := incRun(t, e, now, false, segment.ModeFull)
	want := []string{"gone | Film > Rolls", "line | ", "stale | Old"}
	if got := unknown(first); !slices.Equal(got, want) {
		t.Errorf("full run: unknown products %v, want %v", got, want)
	}
	if got := strings1(t, db, `SELECT category FROM v_visitor_interests WHERE site = ? AND kind = 'product' AND key = 'gone'`, site); !slices.Equal(got, []string{"Film > Rolls", "Film > Rolls"}) {
		t.Errorf("categories of the interests in gone: %v, want Film > Rolls twice", got)
	}

	insertStored(t, db, stored{replaced, at, view("replaced", "p1", "")})
	time.Sleep(time.Second)
	later := now.Add(15 * time.Minute)
	inc := incRun(t, e, later, false, segment.ModeIncremental)
	want = []string{"gone | Film > Rolls", "line | "}
	if got := unknown(inc); !slices.Equal(got, want) {
		t.Errorf("incremental run: unknown products %v, want %v", got, want)
	}
	full := incRun(t, e, later, true, segment.ModeFull)
	if got := unknown(full); !slices.Equal(got, want) {
		t.Errorf("full run after it: unknown products %v, want %v", got, want)
	}
}

// Retention drops whole months of events, and a run after a month of the
// site's events went is full. A month holding only another shop's events
// is not the site's: its going (that shop's retention, or on 26.7 that
// shop's erasures emptying it) leaves the run incremental.
func TestOnlyTheSitesMonthsGoneMakeARunFull(t *testing.T) {
	if underRace {
		t.Skip("the mode of a run: run without -race")
	}
	db := chtest.MustOpen(t)
	incrementalCatalog(t, db)
	e := incrementalEngine(t, db, incrementalConfig(t))
	r := rand.New(rand.NewPCG(15, 3))
	late := func(siteID string, at time.Time) {
		insertStoredFor(t, db, siteID, stored{id: uuid.New(), at: at, ev: ev{vid: "v1", typ: "product_view", pid: "c1"}})
	}
	ours, theirs := now.AddDate(-1, 0, 0), now.AddDate(-2, 0, 0)
	insertStored(t, db, traffic(r, names("v", 0, 10), 100, now.Add(-10*day), now)...)
	late(site, ours)      // a month of ours
	late("other", theirs) // and one of theirs only
	incRun(t, e, now, false, segment.ModeFull)

	// Theirs goes: still incremental, and right.
	dropEventsMonth(t, db, theirs)
	at := now.Add(time.Hour)
	inc := incRun(t, e, at, false, segment.ModeIncremental)
	runcheck.Compare(t, readRun(t, incrementalConfig(t), db, inc, at), readRun(t, incrementalConfig(t), db, incRun(t, e, at, true, segment.ModeFull), at))

	// Another month of theirs appears and goes after an incremental run
	// listed the partitions: still incremental.
	late("other", theirs.AddDate(0, -1, 0))
	incRun(t, e, now.Add(2*time.Hour), false, segment.ModeIncremental)
	dropEventsMonth(t, db, theirs.AddDate(0, -1, 0))
	incRun(t, e, now.Add(3*time.Hour), false, segment.ModeIncremental)

	// Ours goes right after a full run read it: full.
	incRun(t, e, now.Add(4*time.Hour), true, segment.ModeFull)
	dropEventsMonth(t, db, ours)
	if res := incRun(t, e, now.Add(5*time.Hour), false, segment.ModeFull); res.Cause != segment.CauseRetention {
		t.Errorf("after the site's month went: cause %q (%s), want %q", res.Cause, res.Reason, segment.CauseRetention)
	}

	// Late events make the month again, an incremental run reads it, and
	// more events and an erasure (a mutation) change it: still incremental.
	late(site, ours)
	incRun(t, e, now.Add(6*time.Hour), false, segment.ModeIncremental)
	late(site, ours.Add(time.Hour))
	forget(t, incrementalConfig(t), db, privacy.Subject{Site: site, Kind: "visitor", ID: "v2"})
	incRun(t, e, now.Add(7*time.Hour), false, segment.ModeIncremental)
	// Then it is dropped and made again by a late event before the next
	// run: its partition is there, but not the events the run read. Full.
	dropEventsMonth(t, db, ours)
	late(site, ours)
	if res := incRun(t, e, now.Add(8*time.Hour), false, segment.ModeFull); res.Cause != segment.CauseRetention {
		t.Errorf("after the site's month went and came again: cause %q (%s), want %q", res.Cause, res.Reason, segment.CauseRetention)
	}
}

// dropEventsMonth drops the events partition of at's month as retention
// does.
func dropEventsMonth(t *testing.T, db *chdb.DB, at time.Time) {
	t.Helper()
	if err := privacy.DropEventsMonth(context.Background(), db, at.UTC().Year()*100+int(at.UTC().Month())); err != nil {
		t.Fatal(err)
	}
}

// An erasure that deletes every event of a month of the site's events
// empties the month's parts, which a current ClickHouse then removes
// (18.16 keeps them): the month is gone, but retention did not drop it,
// and the events that went with it are the erased person's, which the
// next run recomputes anyway. So the run stays incremental and equals a
// full run. A month retention drops after that still makes a run full.
func TestAMonthAnErasureEmptiedKeepsRunsIncremental(t *testing.T) {
	db := chtest.MustOpen(t)
	incrementalCatalog(t, db)
	cfg := incrementalConfig(t)
	e := incrementalEngine(t, db, cfg)
	r := rand.New(rand.NewPCG(16, 3))
	insertStored(t, db, traffic(r, names("v", 0, 10), 100, now.Add(-10*day), now)...)
	month := now.AddDate(-1, 0, 0)
	partition := fmt.Sprint(month.UTC().Year()*100 + int(month.UTC().Month()))
	for _, pid := range []string{"c1", "c2"} {
		insertStored(t, db, stored{id: uuid.New(), at: month, ev: ev{vid: "gone", typ: "product_view", pid: pid}})
		insertStored(t, db, stored{id: uuid.New(), at: now.Add(-day), ev: ev{vid: "gone", typ: "product_view", pid: pid}})
	}
	incRun(t, e, now, false, segment.ModeFull)

	var version string
	if err := db.QueryRow(context.Background(), "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	removesEmptyParts := !strings.HasPrefix(version, "18.")
	forget(t, cfg, db, privacy.Subject{Site: site, Kind: "visitor", ID: "gone"})
	parts := func() (n uint64) {
		t.Helper()
		if err := db.QueryRow(context.Background(), "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active AND partition = @p",
			clickhouse.Named("p", partition)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	start := time.Now()
	// 26.7 removes them within half a minute.
	for ; removesEmptyParts && parts() > 0; time.Sleep(200 * time.Millisecond) {
		if time.Since(start) > time.Minute {
			t.Fatalf("ClickHouse %s kept the parts of %s a minute after the erasure emptied them: the test no longer shows a month gone without a drop", version, partition)
		}
	}
	if removesEmptyParts {
		t.Logf("ClickHouse %s removed the parts of %s %s after the erasure", version, partition, time.Since(start).Round(time.Second))
	}

	at := now.Add(time.Hour)
	inc := incRun(t, e, at, false, segment.ModeIncremental)
	runcheck.Compare(t, readRun(t, cfg, db, inc, at), readRun(t, cfg, db, incRun(t, e, at, true, segment.ModeFull), at))

	// A late event makes the month again, a run reads it, retention drops it.
	insertStored(t, db, stored{id: uuid.New(), at: month, ev: ev{vid: "v1", typ: "product_view", pid: "c1"}})
	incRun(t, e, now.Add(2*time.Hour), false, segment.ModeIncremental)
	dropEventsMonth(t, db, month)
	if res := incRun(t, e, now.Add(3*time.Hour), false, segment.ModeFull); res.Cause != segment.CauseRetention {
		t.Errorf("after retention dropped %s: cause %q (%s), want %q", partition, res.Cause, res.Reason, segment.CauseRetention)
	}
}
