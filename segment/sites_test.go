package segment_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
)

// Shops share one database, and with it product, visitor and user ids.
// Another shop's events, catalog, opt-outs, erasures and runs change
// nothing a shop's runs show: one shop's random history is run twice, in
// a database of its own and beside another shop that uses the same ids,
// and its incremental and full runs show the same in both. Our history
// comes from the seed (41 unless REMARKET_RANDOM_SEED says), theirs from
// the next.
func TestAnotherShopChangesNothingInARun(t *testing.T) {
	if underRace {
		// Its runs' concurrency is that of every incremental run, which
		// TestIncrementalRunEqualsFullRun runs under the detector.
		t.Skip("shops side by side: run without -race")
	}
	for _, seed := range randomSeeds(t, 41, 1) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { anotherShopBeside(t, seed) })
	}
}

func anotherShopBeside(t *testing.T, seed uint64) {
	const other = "other"
	cfg := incrementalConfig(t)
	theirSite := cfg.Sites[0] // the same audiences
	theirSite.ID, theirSite.WriteKey, theirSite.AdminToken, theirSite.FeedToken = other, "wk_other", "admin-token-other-0123456789", "feed-token-other-0123456789"
	cfg.Sites = append(cfg.Sites, theirSite)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	alone, beside := chtest.MustOpen(t), chtest.MustOpen(t)
	incrementalCatalog(t, alone)
	incrementalCatalog(t, beside)
	// The other shop sells products with the same ids at other prices,
	// some in other categories.
	theirProducts := incrementalProducts()
	for i := range theirProducts {
		theirProducts[i].Price *= 3
		if i%3 == 0 {
			theirProducts[i].Category = "Other > Stock"
		}
	}
	runcheck.ReplaceCatalog(t, beside, other, theirProducts...)
	eAlone, eBeside := incrementalEngine(t, alone, cfg), incrementalEngine(t, beside, cfg)
	ours := &randomBatches{r: rand.New(rand.NewPCG(seed, 7))}
	theirs := &randomBatches{r: rand.New(rand.NewPCG(seed+1, 7)), site: other, products: theirProducts}

	// arrive stores what arrives between from and to, in k batches from
	// each shop (each brings up to three events of the rarer kinds:
	// identifies, opt-outs, erasures, catalog changes...): ours in both
	// databases, theirs beside ours only.
	arrive := func(from, to time.Time, k, n int) {
		for i := range k {
			start, end := from.Add(to.Sub(from)*time.Duration(i)/time.Duration(k)), from.Add(to.Sub(from)*time.Duration(i+1)/time.Duration(k))
			events, erase, products := ours.batch(start, end, n)
			for _, db := range []*chdb.DB{alone, beside} {
				if len(events) > 0 {
					insertStored(t, db, events...)
				}
				if products != nil {
					replaceCatalog(t, db, products...)
				}
				for _, s := range erase {
					forget(t, cfg, db, s)
				}
			}
			theirEvents, theirErase, theirCatalog := theirs.batch(start, end, n)
			if len(theirEvents) > 0 {
				insertStoredFor(t, beside, other, theirEvents...)
			}
			if theirCatalog != nil {
				runcheck.ReplaceCatalog(t, beside, other, theirCatalog...)
			}
			for _, s := range theirErase {
				forget(t, cfg, beside, s)
			}
		}
		time.Sleep(time.Second) // insert times are seconds: the runs must start after them
	}
	// runAt runs our shop in both databases and theirs beside ours (just
	// before ours, so its cleanup comes first), compares what our runs
	// show, and returns what the one beside theirs shows.
	runAt := func(at time.Time, full bool, mode string) runcheck.Snapshot {
		t.Helper()
		got := incRun(t, eAlone, at, full, mode)
		eBeside.Now = func() time.Time { return at }
		if _, err := eBeside.Run(context.Background(), other, segment.RunOptions{Full: full}); err != nil {
			t.Fatalf("the other shop's run at %s: %v", at.Format(time.DateTime), err)
		}
		want := incRun(t, eBeside, at, full, mode)
		a, b := readRun(t, cfg, beside, want, at), readRun(t, cfg, alone, got, at)
		a.Engine, b.Engine = mode+" run beside another shop", mode+" run alone"
		runcheck.Compare(t, a, b)
		return a
	}

	at := now
	// User ids are the shops' own (often plain numbers), so they meet
	// across shops: a person who opts out in one shop, directly or
	// through a device, has not opted out of the other.
	at1 := func(ago time.Duration) time.Time { return at.Add(-ago) }
	ourPeople := []stored{
		{uuid.New(), at1(30 * day), ev{vid: "p1", typ: "identify", uid: "u1", traits: `{"email":"one@example.com"}`}},
		{uuid.New(), at1(29 * day), ev{vid: "p1", typ: "product_view", pid: "c1", qty: 1}},
		{uuid.New(), at1(30 * day), ev{vid: "p2", typ: "identify", uid: "u2"}},
		{uuid.New(), at1(29 * day), ev{vid: "p2", typ: "add_to_cart", pid: "l1", qty: 1}},
		{uuid.New(), at1(30 * day), ev{vid: "p3", typ: "identify", uid: "u3"}},
		{uuid.New(), at1(20 * day), ev{vid: "p3", typ: "page_view", optedOut: true}},
		{uuid.New(), at1(5 * day), ev{vid: "p5", typ: "product_view", pid: "t1", qty: 1}},
	}
	insertStored(t, alone, ourPeople...)
	insertStored(t, beside, ourPeople...)
	insertStoredFor(t, beside, other,
		stored{uuid.New(), at1(15 * day), ev{vid: "p1", typ: "identify", uid: "u1"}},
		stored{uuid.New(), at1(10 * day), ev{vid: "p1", typ: "page_view", optedOut: true}},
		stored{uuid.New(), at1(10 * day), ev{uid: "u2", typ: "track", optedOut: true}},
		stored{uuid.New(), at1(15 * day), ev{vid: "p5", typ: "identify", uid: "u3"}},
		stored{uuid.New(), at1(10 * day), ev{vid: "p2", typ: "page_view", optedOut: true}})
	arrive(at.Add(-60*day), at, 10, 40)
	runAt(at, false, segment.ModeFull)
	var last runcheck.Snapshot
	for _, step := range []time.Duration{15 * time.Minute, 3 * time.Hour} {
		arrive(at, at.Add(step), 3, 10)
		at = at.Add(step)
		last = runAt(at, false, segment.ModeIncremental)
	}
	// Beside the other shop too, the incremental run shows what a full
	// run on the same events shows.
	runcheck.Compare(t, last, runAt(at, true, segment.ModeFull))

	// Feeds find each shop's run through v_current_runs, which must show
	// what v_segment_runs shows of the current runs.
	const cols = "concat(site, ' ', run_id, ' ', toString(started_at), ' ', toString(finished_at), ' ', status, ' ', toString(as_of))"
	current := strings1(t, beside, "SELECT "+cols+" FROM v_current_runs ORDER BY site")
	if want := strings1(t, beside, "SELECT "+cols+" FROM v_segment_runs WHERE is_current = 1 ORDER BY site"); !slices.Equal(current, want) || len(current) != 2 {
		t.Errorf("v_current_runs shows %q, v_segment_runs's current runs are %q", current, want)
	}
}
