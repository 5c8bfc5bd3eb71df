package sql_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
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

// A process killed while it held the migration lock leaves the lock
// table behind, broken only once it is 10 minutes old. A schema that is
// already up to date needs no lock: every command migrates at start, and
// none of them may hang on the leftover (serve, segment run and feed
// export hung silently for up to 10 minutes).
func TestMigrateUpToDateDoesNotWaitForALeftoverLock(t *testing.T) {
	db := chtest.MustOpen(t) // already migrated
	ctx := context.Background()
	if err := db.Exec(ctx, "CREATE TABLE schema_migrations_lock (locked_at DateTime) ENGINE = Log"); err != nil {
		t.Fatal(err)
	}
	if err := db.InsertRow(ctx, "INSERT INTO schema_migrations_lock (locked_at)", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	ran, err := rmsql.Migrate(wctx, db)
	if err != nil || len(ran) != 0 {
		t.Fatalf("migrate of an up-to-date schema beside a leftover lock: applied %v, err %v after %s; want nothing to do, at once",
			ran, err, time.Since(start).Round(time.Millisecond))
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

// A re-used event id (the write key is public) must not replace another
// visitor's event: a forged page view once replaced a purchase.
func TestReusedEventIDCannotReplaceAnotherVisitorsEvent(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	id := uuid.New()
	insert := func(visitor, typ string) {
		t.Helper()
		if err := db.InsertRow(ctx, "INSERT INTO events (site, event_id, event_time, type, visitor_id)", "s1", id, time.Now(), typ, visitor); err != nil {
			t.Fatal(err)
		}
	}
	insert("buyer", "purchase")
	insert("forger", "page_view")
	insert("buyer", "purchase") // a re-send of the buyer's own event collapses
	if err := db.Exec(ctx, "OPTIMIZE TABLE events FINAL"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, "SELECT visitor_id, type FROM v_events WHERE site = 's1' ORDER BY visitor_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v, typ string
		if err := rows.Scan(&v, &typ); err != nil {
			t.Fatal(err)
		}
		got = append(got, v+" "+typ)
	}
	if want := []string{"buyer purchase", "forger page_view"}; !slices.Equal(got, want) {
		t.Fatalf("v_events = %q, want %q", got, want)
	}
}

// Migration 030 moves events stored under the old key (site, event_id)
// into the new table without losing or doubling one, also when run again
// after a crash, and leaves the old rows in events_before_030.
func TestEventsMoveToTheVisitorKey(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	// Put the old layout back, as an install from before 030 has it.
	old, err := rmsql.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var create string
	for _, m := range old {
		if m.Version == 1 {
			create = m.Statements[0]
		}
	}
	for _, q := range []string{"DROP TABLE events", "DROP TABLE events_before_030", create} {
		if err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	forget30(t, db)
	want := map[string]string{}
	for i := range 50 {
		id, visitor := uuid.New(), fmt.Sprintf("v%d", i%7)
		want[id.String()] = visitor
		if err := db.InsertRow(ctx, "INSERT INTO events (site, event_id, event_time, type, visitor_id)", "s1", id, time.Now().Add(-time.Duration(i)*24*time.Hour), "page_view", visitor); err != nil {
			t.Fatal(err)
		}
	}
	check := func() {
		t.Helper()
		rows, err := db.Query(ctx, "SELECT toString(event_id), visitor_id FROM v_events WHERE site = 's1'")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]string{}
		for rows.Next() {
			var id, v string
			if err := rows.Scan(&id, &v); err != nil {
				t.Fatal(err)
			}
			if _, dup := got[id]; dup {
				t.Fatalf("event %s twice in v_events", id)
			}
			got[id] = v
		}
		if !maps.Equal(got, want) {
			t.Fatalf("v_events has %d events, want the %d stored before the migration", len(got), len(want))
		}
		var key string
		if err := db.QueryRow(ctx, "SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = 'events'").Scan(&key); err != nil {
			t.Fatal(err)
		}
		if key != "site, cityHash64(visitor_id), event_id" {
			t.Fatalf("events sorted by %q", key)
		}
	}
	if _, err := rmsql.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	check()
	var kept uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM events_before_030").Scan(&kept); err != nil || kept != 50 {
		t.Fatalf("events_before_030 keeps %d rows (%v), want 50", kept, err)
	}
	// A crash after the rename, before the migration was recorded.
	forget30(t, db)
	if _, err := rmsql.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	check()
}

// forget30 removes migrations from 030 on from the ledger.
func forget30(t *testing.T, db *chdb.DB) {
	t.Helper()
	for _, q := range []string{
		"DROP TABLE IF EXISTS schema_migrations_kept",
		"CREATE TABLE schema_migrations_kept AS schema_migrations",
		"INSERT INTO schema_migrations_kept SELECT * FROM schema_migrations WHERE version < 30",
		"DROP TABLE schema_migrations",
		"RENAME TABLE schema_migrations_kept TO schema_migrations",
	} {
		if err := db.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

// Of two copies of one visitor's event id, the one received first is the
// event, whichever was inserted last (re-sends arrive later).
func TestFirstReceivedCopyOfAnEventWins(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	id := uuid.New()
	first := time.Now().Add(-time.Hour).Truncate(time.Second)
	for _, c := range []struct {
		received time.Time
		typ      string
	}{{first.Add(time.Minute), "page_view"}, {first, "purchase"}, {first.Add(2 * time.Minute), "product_view"}} {
		if err := db.InsertRow(ctx, "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id)", "s1", id, first, c.received, c.typ, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	var typ string
	var n uint64
	if err := db.QueryRow(ctx, "SELECT any(type), count() FROM v_events WHERE site = 's1'").Scan(&typ, &n); err != nil {
		t.Fatal(err)
	}
	if n != 1 || typ != "purchase" {
		t.Fatalf("v_events has %d rows, type %q; want the first received copy, a purchase", n, typ)
	}
}
