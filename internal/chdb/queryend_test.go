package chdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
)

// The wait returns only once the query has left system.processes (the
// server releases its locks before that).
func TestAwaitQueryEndWaitsUntilTheQueryHasLeft(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	id := "await-" + time.Now().Format("150405.000000")
	done := make(chan time.Time, 1)
	go func() {
		// Four blocks of one row, half a second each.
		db.Conn.Exec(clickhouse.Context(ctx, clickhouse.WithQueryID(id)),
			"SELECT sleepEachRow(0.5) FROM numbers(4) SETTINGS max_block_size = 1 FORMAT Null")
		done <- time.Now()
	}()
	running := func() uint64 {
		var n uint64
		if err := db.Conn.QueryRow(ctx, "SELECT count() FROM system.processes WHERE query_id = ?", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); running() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the query never showed in system.processes")
		}
	}
	start := time.Now()
	db.AwaitQueryEnd(ctx, id)
	waited := time.Since(start)
	if n := running(); n != 0 {
		t.Fatalf("AwaitQueryEnd returned after %s with the query still running", waited)
	}
	if waited < time.Second {
		t.Fatalf("AwaitQueryEnd returned after %s, before the 2 s query could end", waited)
	}
	<-done
}

// A statement run under a query id of chdb.WithQueryID keeps it (the
// query log names a run's steps by it); 18.16's query log shows it.
func TestStatementsKeepTheirQueryIDs(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
	id := "named-" + time.Now().Format("150405.000000")
	if err := db.Exec(chdb.WithQueryID(ctx, id), "SELECT 1 FORMAT Null"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := db.QueryRow(chdb.WithQueryID(ctx, id+"-row"), "SELECT count() FROM system.one").Scan(&n); err != nil || n != 1 {
		t.Fatalf("QueryRow: %d, %v", n, err)
	}
	if !db.Version.LocksByThread() {
		return // chDB keeps no query log by default
	}
	if err := db.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, "SELECT DISTINCT query_id FROM system.query_log WHERE query_id IN (?, ?) ORDER BY query_id", id, id+"-row")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Fatalf("query log holds %q, want %s and %s-row", ids, id, id)
	}
}

func TestLocksByThreadUntil19_14(t *testing.T) {
	for _, c := range []struct {
		v    chdb.Version
		want bool
	}{
		{chdb.Version{18, 16, 1}, true},
		{chdb.Version{19, 14, 3}, true},
		{chdb.Version{19, 15, 0}, false},
		{chdb.Version{26, 7, 3}, false},
	} {
		if got := c.v.LocksByThread(); got != c.want {
			t.Errorf("%s: LocksByThread %v, want %v", c.v, got, c.want)
		}
	}
}
