package catalog_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
)

// Each catalog.Store stands for a process: its per-site lock does not
// reach the others, so these tests race writes the way several serve
// instances and the CLI do.

func product(id string, price float64) catalog.Product {
	return catalog.Product{ID: id, Price: price, Currency: "EUR", Availability: "in_stock", Condition: "new"}
}

// firstTime is a Store hook that runs f at its first call only: at the
// write's own switch, not at those of the folds that follow it.
func firstTime(f func(ctx context.Context, site string) error) func(context.Context, string, uint64) error {
	var once sync.Once
	return func(ctx context.Context, site string, _ uint64) error {
		var err error
		once.Do(func() { err = f(ctx, site) })
		return err
	}
}

// pauseOnce is a Store hook that, at its first call, closes arrived and
// waits until release is closed: a write held at that moment.
func pauseOnce(arrived, release chan struct{}) func(context.Context, string, uint64) error {
	return firstTime(func(context.Context, string) error {
		close(arrived)
		<-release
		return nil
	})
}

// upsertEach upserts one product per id through s, one after another.
func upsertEach(ctx context.Context, s *catalog.Store, site string, ids ...string) error {
	for _, id := range ids {
		if _, err := s.Upsert(ctx, site, []catalog.Product{product(id, 1)}, "api"); err != nil {
			return err
		}
	}
	return nil
}

func priceOf(t *testing.T, db *chdb.DB, site, id string) float64 {
	t.Helper()
	var price float64
	if err := db.QueryRow(context.Background(), "SELECT any(price) FROM v_products WHERE site = ? AND product_id = ?", site, id).Scan(&price); err != nil {
		t.Fatal(err)
	}
	return price
}

func currentVersion(t *testing.T, db *chdb.DB, site string) uint64 {
	t.Helper()
	v, _, err := catalog.CurrentSwitch(context.Background(), db, site)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// An upsert that switches right after another process's upsert, both made
// from the same catalog, must not hide it.
func TestUpsertSwitchingJustAfterAnotherKeepsIt(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	mustImport(t, s, "shop", "testdata/cameras.csv")
	before := currentIDs(t, db, "shop")

	other := catalog.NewStore(db, nil)
	s.SetBeforeRecord(firstTime(func(ctx context.Context, site string) error {
		_, err := other.Upsert(ctx, site, []catalog.Product{product("A", 1), product("BOTH", 1)}, "api")
		return err
	}))
	rep, err := s.Upsert(context.Background(), "shop", []catalog.Product{product("X", 2), product("BOTH", 2)}, "api")
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(append(slices.Clone(before), "A", "BOTH", "X")))
	if got := currentIDs(t, db, "shop"); !slices.Equal(got, want) {
		t.Errorf("v_products = %v, want %v (the other process's upsert kept)", got, want)
	}
	if p := priceOf(t, db, "shop", "BOTH"); p != 2 {
		t.Errorf("BOTH costs %v, want 2: the write switched last wins", p)
	}
	if cur := currentVersion(t, db, "shop"); rep.Version != cur {
		t.Errorf("the upsert answered version %d, but %d is current", rep.Version, cur)
	}
}

// An upsert made from a catalog before another process's switch, and
// switching right after it, lacks that write: the answered one must win
// back its place, and so must its product where the later write did not
// write it.
func TestUpsertSwitchingLateFoldsTheEarlierOne(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	mustImport(t, s, "shop", "testdata/cameras.csv")
	before := currentIDs(t, db, "shop")

	late := catalog.NewStore(db, nil)
	atRecord, release := make(chan struct{}), make(chan struct{})
	late.SetBeforeRecord(pauseOnce(atRecord, release))
	lateDone := make(chan error, 1)
	go func() {
		_, err := late.Upsert(context.Background(), "shop", []catalog.Product{product("LATE", 3), product("BOTH", 3)}, "api")
		lateDone <- err
	}()
	<-atRecord // late copied the catalog and checked it is current
	if _, err := s.Upsert(context.Background(), "shop", []catalog.Product{product("EARLY", 1), product("BOTH", 1)}, "api"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-lateDone; err != nil {
		t.Fatalf("the late upsert: %v", err)
	}
	want := slices.Sorted(slices.Values(append(slices.Clone(before), "BOTH", "EARLY", "LATE")))
	if got := currentIDs(t, db, "shop"); !slices.Equal(got, want) {
		t.Errorf("v_products = %v, want %v (the early upsert, answered first, kept)", got, want)
	}
	if p := priceOf(t, db, "shop", "BOTH"); p != 3 {
		t.Errorf("BOTH costs %v, want 3: the write switched last wins", p)
	}
	var folds uint64
	if err := db.QueryRow(context.Background(), "SELECT count() FROM v_catalog_versions WHERE site = 'shop' AND source = 'fold'").Scan(&folds); err != nil {
		t.Fatal(err)
	}
	if folds != 1 {
		t.Errorf("%d fold versions recorded, want 1", folds)
	}
}

// An import switched by another process just before an upsert's switch
// replaces the catalog the upsert copied: the result is the import with
// the upsert's products, as if the two had taken turns.
func TestUpsertSwitchingJustAfterAnImportKeepsTheImport(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	mustImport(t, s, "shop", "testdata/cameras.csv")

	other := catalog.NewStore(db, nil)
	s.SetBeforeRecord(firstTime(func(ctx context.Context, site string) error {
		_, err := importString(t, other, site, "id,price,currency\nNEW-1,1,EUR\nNEW-2,2,EUR\n")
		return err
	}))
	if _, err := s.Upsert(context.Background(), "shop", []catalog.Product{product("X", 5)}, "api"); err != nil {
		t.Fatal(err)
	}
	if got, want := currentIDs(t, db, "shop"), []string{"NEW-1", "NEW-2", "X"}; !slices.Equal(got, want) {
		t.Errorf("v_products = %v, want %v", got, want)
	}
}

// Processes upserting the same site at once: every answered product is in
// the catalog at the end. Before versions were folded, 1 or 2 of 24 went
// missing in about half of such runs.
func TestConcurrentUpsertsFromSeveralProcessesLoseNothing(t *testing.T) {
	db := chtest.MustOpen(t)
	mustImport(t, catalog.NewStore(db, nil), "shop", "testdata/cameras.csv")
	upsertConcurrently(t, db)
}

// The same, on hosts whose clocks are behind the recorded switches: each
// write takes the highest switch_seq plus one, so writes switching at
// once record the same one, and the catalog stays the same after
// catalog_versions merges.
func TestConcurrentUpsertsBehindTheRecordedClockLoseNothing(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	rep := mustImport(t, catalog.NewStore(db, nil), "shop", "testdata/cameras.csv")
	recordSwitchAgain(t, db, "shop", rep.Version, anHourAhead(t, db, "shop"))
	got := upsertConcurrently(t, db)
	var ties uint64
	if err := db.QueryRow(ctx, "SELECT toUInt64(count() - uniqExact(switch_seq)) FROM catalog_versions WHERE site = ?", "shop").Scan(&ties); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d switches shared a switch_seq with another", ties)
	if err := db.Exec(ctx, "OPTIMIZE TABLE catalog_versions FINAL"); err != nil {
		t.Fatal(err)
	}
	if merged := currentIDs(t, db, "shop"); !slices.Equal(merged, got) {
		t.Errorf("the catalog changed when catalog_versions merged: %v, then %v", got, merged)
	}
}

// upsertConcurrently upserts products from several Stores (each stands
// for a process) at once, checks that every answered product and every
// product there before is in the catalog, and returns its products.
func upsertConcurrently(t *testing.T, db *chdb.DB) []string {
	t.Helper()
	before := currentIDs(t, db, "shop")
	const processes, upserts = 3, 8
	var wg sync.WaitGroup
	answered := make(chan string, processes*upserts)
	errs := make(chan error, processes*upserts)
	for p := range processes {
		s := catalog.NewStore(db, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range upserts {
				id := fmt.Sprintf("P%d-%d", p, i)
				if _, err := s.Upsert(context.Background(), "shop", []catalog.Product{product(id, float64(i+1))}, "api"); err != nil {
					errs <- fmt.Errorf("%s: %w", id, err)
					continue
				}
				answered <- id
			}
		}()
	}
	wg.Wait()
	close(answered)
	close(errs)
	for err := range errs {
		t.Logf("refused (allowed, if it says so): %v", err)
	}
	got := currentIDs(t, db, "shop")
	n := 0
	for id := range answered {
		n++
		if !slices.Contains(got, id) {
			t.Errorf("upsert of %s was answered but the product is not in the catalog", id)
		}
	}
	for _, id := range before {
		if !slices.Contains(got, id) {
			t.Errorf("imported product %s is gone", id)
		}
	}
	if n < processes*upserts/2 {
		t.Errorf("only %d of %d upserts were answered", n, processes*upserts)
	}
	return got
}
