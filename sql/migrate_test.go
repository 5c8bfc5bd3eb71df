package sql_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	rmsql "github.com/remarket/remarket/sql"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestMigrateTwiceAppliesNothingNew(t *testing.T) {
	db := chtest.MustOpen(t) // already migrated once
	ran, err := rmsql.Migrate(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if len(ran) != 0 {
		t.Fatalf("second migrate applied %v, want nothing", ran)
	}
}

func TestMigrateConcurrentProcesses(t *testing.T) {
	dsn := chtest.DSN(t)
	// Drop the ledger so both runners see every migration as pending.
	ctx := context.Background()
	first, err := chdb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := first.Exec(ctx, "DROP TABLE schema_migrations"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	ran := make([][]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := chdb.Open(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			ran[i], errs[i] = rmsql.Migrate(ctx, db)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	all, _ := rmsql.Migrations()
	if got := len(ran[0]) + len(ran[1]); got != len(all) {
		t.Fatalf("the two runners applied %d migrations together (%v, %v), want each of %d exactly once", got, ran[0], ran[1], len(all))
	}
	var n uint64
	if err := first.QueryRow(ctx, "SELECT count() FROM schema_migrations FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if int(n) != len(all) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(all))
	}
}

func TestVEventsCountsEachIDOnce(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	id := uuid.New()
	for range 3 { // three separate inserts make three parts until a merge
		b, err := db.PrepareBatch(ctx, "INSERT INTO events (site, event_id, event_time, type, visitor_id)")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append("s1", id, time.Now(), "page_view", "v1"); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	var raw, seen uint64
	db.QueryRow(ctx, "SELECT count() FROM events").Scan(&raw)
	if err := db.QueryRow(ctx, "SELECT count() FROM v_events WHERE site = 's1'").Scan(&seen); err != nil {
		t.Fatal(err)
	}
	if seen != 1 {
		t.Fatalf("v_events shows %d rows for one event id (raw table has %d), want 1", seen, raw)
	}
}

func TestSplitStatements(t *testing.T) {
	got := rmsql.SplitStatements("-- comment\nCREATE TABLE a (x UInt8)\nENGINE = Log;\n\nSELECT 1;\n")
	if len(got) != 2 || got[1] != "SELECT 1" {
		t.Fatalf("got %q", got)
	}
}
