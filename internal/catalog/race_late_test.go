package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chtest"
)

// An upsert whose record lands late: it chose its switch_seq, and before
// its row is inserted another process switches twice (the second upsert
// copying the first). The late row's switch_seq is then below the covers of
// the current version, which no settle looks behind: answered 200, lost.
func TestUpsertLandingLateBehindACopyIsKept(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	mustImport(t, s, "shop", "testdata/cameras.csv")
	before := currentIDs(t, db, "shop")

	other := catalog.NewStore(db, nil)
	s.SetBeforeInsert(firstTime(func(ctx context.Context, site string) error {
		return upsertEach(ctx, other, site, "B", "V")
	}))
	rep, err := s.Upsert(context.Background(), "shop", []catalog.Product{product("W", 2)}, "api")
	want := slices.Sorted(slices.Values(append(slices.Clone(before), "B", "V", "W")))
	if err != nil {
		if !errors.Is(err, catalog.ErrConflict) {
			t.Fatal(err)
		}
		t.Logf("refused (allowed): %v", err)
		want = slices.DeleteFunc(want, func(id string) bool { return id == "W" })
	}
	if got := currentIDs(t, db, "shop"); !slices.Equal(got, want) {
		t.Errorf("v_products = %v, want %v (answered err = %v)", got, want, err)
	}
	if err == nil {
		if cur := currentVersion(t, db, "shop"); rep.Version != cur {
			t.Errorf("the upsert answered version %d, but %d is current", rep.Version, cur)
		}
	}
}

// The same for an import: answered 200, it must be the catalog (with the
// upserts that switched after it), not the catalog it replaced.
func TestImportLandingLateBehindACopyIsKeptOrRefused(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	mustImport(t, s, "shop", "testdata/cameras.csv")
	before := currentIDs(t, db, "shop")

	other := catalog.NewStore(db, nil)
	s.SetBeforeInsert(firstTime(func(ctx context.Context, site string) error {
		return upsertEach(ctx, other, site, "B", "V")
	}))
	_, err := importString(t, s, "shop", "id,price,currency\nNEW-1,1,EUR\nNEW-2,2,EUR\n")
	got := currentIDs(t, db, "shop")
	if err != nil {
		if !errors.Is(err, catalog.ErrConflict) {
			t.Fatal(err)
		}
		t.Logf("refused (allowed): %v", err)
		return
	}
	if slices.Contains(got, before[0]) || !slices.Contains(got, "NEW-1") {
		t.Errorf("the import was answered without error, but v_products = %v", got)
	}
}

// An upsert that checked its precondition and then stalls while another
// process switches more versions than Keep: when it switches at last, the
// fold must not need the rows Prune dropped meanwhile, and every upsert
// answered meanwhile stays.
func TestUpsertSwitchingAfterManyOthersKeepsThem(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	mustImport(t, s, "shop", "testdata/cameras.csv")
	before := currentIDs(t, db, "shop")

	late := catalog.NewStore(db, nil)
	atRecord, release := make(chan struct{}), make(chan struct{})
	late.SetBeforeRecord(pauseOnce(atRecord, release))
	lateDone := make(chan error, 1)
	go func() {
		_, err := late.Upsert(context.Background(), "shop", []catalog.Product{product("LATE", 3)}, "api")
		lateDone <- err
	}()
	<-atRecord
	want := slices.Clone(before)
	for i := range s.Keep + 2 {
		id := fmt.Sprintf("P-%02d", i)
		if _, err := s.Upsert(context.Background(), "shop", []catalog.Product{product(id, 1)}, "api"); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	close(release)
	if err := <-lateDone; err != nil {
		t.Errorf("the late upsert: %v", err)
	} else {
		want = append(want, "LATE")
	}
	if _, err := s.Upsert(context.Background(), "shop", []catalog.Product{product("AFTER", 1)}, "api"); err != nil {
		t.Errorf("an upsert after it: %v", err)
	} else {
		want = append(want, "AFTER")
	}
	slices.Sort(want)
	if got := currentIDs(t, db, "shop"); !slices.Equal(got, want) {
		t.Errorf("v_products = %v, want %v", got, want)
	}
}

// A late-landing upsert (its record lands after another process switched
// B and copied it into V) whose repair loses to yet another copy of V: a
// third upsert X, copied from V, switches while the late write's fold is
// made. The answered write must be in the catalog, or the answer an error.
func TestLateUpsertWhoseRepairLosesToACopyIsKept(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	mustImport(t, s, "shop", "testdata/cameras.csv")
	before := currentIDs(t, db, "shop")

	other := catalog.NewStore(db, nil)
	var switchOnce sync.Once
	s.SetBeforeInsert(firstTime(func(ctx context.Context, site string) error {
		return upsertEach(ctx, other, site, "B", "V")
	}))
	var switches atomic.Int32
	s.SetBeforeSwitch(func(ctx context.Context, site string, version uint64) error {
		if switches.Add(1) < 2 { // the upsert's own first switch
			return nil
		}
		var err error
		switchOnce.Do(func() {
			_, err = other.Upsert(ctx, site, []catalog.Product{product("X", 1)}, "api")
		})
		return err
	})
	_, err := s.Upsert(context.Background(), "shop", []catalog.Product{product("W", 2)}, "api")
	want := slices.Sorted(slices.Values(append(slices.Clone(before), "B", "V", "W", "X")))
	if err != nil {
		if !errors.Is(err, catalog.ErrConflict) {
			t.Fatal(err)
		}
		t.Logf("refused (allowed): %v", err)
		want = slices.DeleteFunc(want, func(id string) bool { return id == "W" })
	}
	if got := currentIDs(t, db, "shop"); !slices.Equal(got, want) {
		t.Errorf("v_products = %v, want %v (answered err = %v)", got, want, err)
	}
}
