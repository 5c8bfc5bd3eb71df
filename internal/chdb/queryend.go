package chdb

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
)

// LocksByThread says whether the server recognises a table lock taken
// again by the thread that holds it, by the thread's id. ClickHouse did
// until September 2019 (pull request 6771, in 19.14). Its bookkeeping is
// a map from thread id to lock, and the ids of a query's short-lived
// threads (those that read IN and JOIN subqueries) are handed again to
// the next query's. When a query takes a table's lock in such a thread
// while the query that took it before, in a thread of the same id, is
// releasing it, both locks end up on one entry of the map; the second
// release erases it again and the server crashes
// (std::_Rb_tree_rebalance_for_erase, called first thing by
// RWLockImpl::LockHandlerImpl's destructor). An 18.16 crashed so at the
// end of a segment run's statement in one test suite of several.
//
// The server answers a statement before it releases the statement's
// locks, so the likeliest way to meet a release is to send the next
// statement at once on another connection of the pool, as every
// remarket process does. On such a server each statement of a DB
// therefore waits, after its answer, until the server has released it
// (awaitQueryEnd): one more round trip, as it has almost always ended.
// Other clients' statements can still meet a release, by chance.
func (v Version) LocksByThread() bool { return !v.AtLeast(19, 15) }

// queryIDKey carries the query id WithQueryID set, which awaitQueryEnd
// needs and clickhouse-go does not give back.
type queryIDKey struct{}

// WithQueryID runs the statements of ctx as query id (system.processes,
// the query log).
func WithQueryID(ctx context.Context, id string) context.Context {
	return clickhouse.Context(context.WithValue(ctx, queryIDKey{}, id), clickhouse.WithQueryID(id))
}

// named returns ctx with a query id, the one WithQueryID set or a new
// one, when query is to be waited for: on a server whose locks are kept
// by thread, a query that may lock tables in threads of its own
// (locksInOtherThreads). Else it returns ctx and "".
func (db *DB) named(ctx context.Context, query string) (context.Context, string) {
	if db.Version.Major == 0 || !db.Version.LocksByThread() || !locksInOtherThreads(query) { // 0: not asked yet
		return ctx, ""
	}
	if id, ok := ctx.Value(queryIDKey{}).(string); ok {
		return ctx, id
	}
	id := uuid.NewString()
	return WithQueryID(ctx, id), id
}

// locksInOtherThreads says whether a statement may take a table's lock in
// a thread other than its connection's: one with a subquery (18.x reads
// IN and JOIN subqueries in threads of their own), a JOIN, or a read of
// one of remarket's views (named v_…, whose definitions hide theirs).
// The others take their locks in the connection's thread, whose id no
// other query gets while it lives, so they need no wait: more than half
// of the segment tests' statements, each of which the wait (one more
// query) would make about 1.6 ms slower on 18.16. A word that only looks
// like one of these (a column named joins) costs a wait, nothing more.
func locksInOtherThreads(query string) bool {
	u := strings.ToUpper(query)
	return strings.Count(u, "SELECT") > 1 || strings.Contains(u, "JOIN") || reView.MatchString(query)
}

var reView = regexp.MustCompile(`(?i)\bv_\w`)

// awaitQueryEnd waits until query id is no longer in system.processes:
// a query leaves it after its tables' locks are released. It gives up
// after ten seconds, or when ctx ends (a cancelled caller sends nothing
// next): the wait only makes the crash unlikely.
func (db *DB) awaitQueryEnd(ctx context.Context, id string) {
	if id == "" || ctx.Err() != nil {
		return
	}
	// Asked under a query id of its own (the server makes one up), not
	// the one it waits for.
	ctx, cancel := context.WithTimeout(clickhouse.Context(ctx, clickhouse.WithQueryID("")), 10*time.Second)
	defer cancel()
	for wait := 100 * time.Microsecond; ; wait = min(2*wait, 50*time.Millisecond) {
		if running, err := db.running(ctx, id); err != nil || !running {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// running says whether the server still lists query id in
// system.processes.
func (db *DB) running(ctx context.Context, id string) (bool, error) {
	var n uint64
	err := db.Conn.QueryRow(ctx, "SELECT count() FROM system.processes WHERE query_id = ?", id).Scan(&n)
	return n > 0, err
}

// Exec runs a statement (see LocksByThread).
func (db *DB) Exec(ctx context.Context, query string, args ...any) error {
	ctx, id := db.named(ctx, query)
	err := db.Conn.Exec(ctx, query, args...)
	db.awaitQueryEnd(ctx, id)
	return err
}

// Select runs a query into dest (see LocksByThread).
func (db *DB) Select(ctx context.Context, dest any, query string, args ...any) error {
	ctx, id := db.named(ctx, query)
	err := db.Conn.Select(ctx, dest, query, args...)
	db.awaitQueryEnd(ctx, id)
	return err
}

// Query runs a query; the wait comes when its rows are closed (see
// LocksByThread).
func (db *DB) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	ctx, id := db.named(ctx, query)
	rows, err := db.Conn.Query(ctx, query, args...)
	if err != nil {
		db.awaitQueryEnd(ctx, id)
		return nil, err
	}
	if id == "" {
		return rows, nil
	}
	return &awaitedRows{Rows: rows, end: sync.OnceFunc(func() { db.awaitQueryEnd(ctx, id) })}, nil
}

// QueryRow runs a query of one row; the wait comes when it is scanned
// (see LocksByThread).
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	ctx, id := db.named(ctx, query)
	row := db.Conn.QueryRow(ctx, query, args...)
	if id == "" {
		return row
	}
	return &awaitedRow{Row: row, end: sync.OnceFunc(func() { db.awaitQueryEnd(ctx, id) })}
}

// awaitedRows waits (end, once) when closed.
type awaitedRows struct {
	driver.Rows
	end func()
}

func (r *awaitedRows) Close() error {
	defer r.end()
	return r.Rows.Close()
}

// awaitedRow waits (end, once) after the first Scan or ScanStruct: the
// row is read by the time either returns.
type awaitedRow struct {
	driver.Row
	end func()
}

func (r *awaitedRow) Scan(dest ...any) error {
	defer r.end()
	return r.Row.Scan(dest...)
}

func (r *awaitedRow) ScanStruct(dest any) error {
	defer r.end()
	return r.Row.ScanStruct(dest)
}
