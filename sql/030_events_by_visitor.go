package sql

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// Migration 030 re-keys events by (site, cityHash64(visitor_id), event_id),
// the same columns plus inserted_at, and gives current servers
// LowCardinality and compression codecs (see dialect.go).
//
// Why the key: an event id identifies an event within its visitor. Before,
// ids were unique per site and the last copy of an id won, so anyone with
// the public write key could re-use another visitor's event id and replace
// their purchase with a page view. Now a re-used id is another visitor's
// row and cannot touch the first; re-sent and replayed copies of one
// visitor's event still collapse (v_events reads with FINAL). One
// visitor's rows also sit together: the segment passes group by visitor,
// and a cluster (clickhouse_cluster) shards by visitor, so that each copy
// of an event meets the others on one shard. The key holds the visitor's
// hash, not the string: FINAL compares keys row by row, and on the
// benchmark shop (10 M events, ClickHouse 18.16, CPU time) a FINAL read
// took 2.9 s with the hash, 4.1 s with the string and 1.9 s with the old
// (site, event_id); the interests pass 5.9–6.5 s, 7.1–7.5 s and
// 6.4–6.9 s; a plain GROUP BY visitor, category 3.5 s, 3.6 s and 5.8–6.4 s.
// (Two visitors whose ids share a 64-bit hash and who send the same event
// id would collapse: about one chance in 2⁶⁴ per pair.)
//
// inserted_at is when ClickHouse stored the row (the insert's now(), in
// seconds), so a run can read what arrived since an earlier one whatever
// the events' own times.
//
// ver decides which copy of an event id FINAL keeps: the one received
// first (a later copy is a re-send; before, the copy inserted last won,
// whichever it was), and between copies received in the same second the
// one whose content hashes higher, so every reader (and every server)
// picks the same copy whatever the order the copies were inserted in.
// (The hash leaves out the items: ClickHouse 18.16 cannot name a Nested
// column in a DEFAULT. Two copies received in one second that differ only
// in their items keep the one inserted last, as before.)
//
// The rows move into a new table, which then takes the name events in one
// RENAME; the old table stays as events_before_030 for the operator to
// drop once satisfied (docs/operations.md, "Upgrades"). Rows another,
// older process inserted into the old table while the copy ran are
// copied again after the rename (their parts are newer than the copy).
// Safe to run again after a crash at any point: copies collapse like
// re-sent events.
//
// On a cluster the events table is sharded by visitor from migration 001
// on, and this migration only gives it the key: a cluster is made from a
// single node that has applied it (remarket cluster convert), or new, so
// its events table is empty here, and is made again.
func init() {
	register(Migration{Version: 30, Name: "030_events_by_visitor", Run: func(ctx context.Context, s *Schema) error {
		if s.Clustered() {
			return eventsByVisitorOnCluster(ctx, s)
		}
		return moveEventsByVisitor(ctx, s.DB)
	}})
}

// eventsByVisitorOnCluster makes the cluster's (empty) events table again
// with the key.
func eventsByVisitorOnCluster(ctx context.Context, s *Schema) error {
	var n uint64
	if !s.Planning() { // (a new cluster's plan: no events yet)
		if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.DB.Database+".events").Scan(&n); err != nil {
			return fmt.Errorf("cannot count events: %w", err)
		}
	}
	if n > 0 {
		return fmt.Errorf("the cluster's events table has %d rows and the old key: apply migration 030 on a single node, then convert it (docs/operations.md)", n)
	}
	if err := s.Exec(ctx, "DROP TABLE IF EXISTS events"); err != nil {
		return err
	}
	create := "CREATE TABLE IF NOT EXISTS events_by_visitor ("
	if !strings.Contains(createEventsByVisitor, create) {
		return fmt.Errorf("tables/events_030.sql does not say %q", create)
	}
	return s.Exec(ctx, strings.Replace(createEventsByVisitor, create, "CREATE TABLE IF NOT EXISTS events (", 1))
}

const eventsByVisitorKey = "site, cityHash64(visitor_id), event_id"

// createEventsByVisitor is the events table from this migration on.
//
//go:embed tables/events_030.sql
var createEventsByVisitor string

// eventColumns are the columns both layouts have.
const eventColumns = "site, event_id, event_time, received_at, type, name, visitor_id, user_id, " +
	"product_id, sku, category, price, currency, quantity, order_id, revenue, " +
	"`items.product_id`, `items.sku`, `items.category`, `items.price`, `items.quantity`, " +
	"url, referrer, title, user_agent, ip, is_bot, opted_out, properties, traits"

func moveEventsByVisitor(ctx context.Context, db *chdb.DB) error {
	key, err := sortingKey(ctx, db, "events")
	if err != nil {
		return err
	}
	if key == eventsByVisitorKey {
		// Renamed already (a crash stopped the migration after that):
		// copy the old table's rows again, all of them this time.
		old, err := sortingKey(ctx, db, "events_before_030")
		if err != nil || old == "" {
			return err
		}
		return copyEvents(ctx, db, "events_before_030", "events", "")
	}
	if old, err := sortingKey(ctx, db, "events_before_030"); err != nil || old != "" {
		return fmt.Errorf("events_before_030 exists while events has the old key (%v): rename or drop one of them by hand", err)
	}
	stmt, err := render(createEventsByVisitor, db.Version)
	if err != nil {
		return err
	}
	if err := db.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("cannot create events_by_visitor: %w", err)
	}
	var start time.Time
	if err := db.QueryRow(ctx, "SELECT now()").Scan(&start); err != nil {
		return err
	}
	if err := copyEvents(ctx, db, "events", "events_by_visitor", ""); err != nil {
		return err
	}
	if err := db.Exec(ctx, "RENAME TABLE events TO events_before_030, events_by_visitor TO events"); err != nil {
		return fmt.Errorf("cannot swap the events tables: %w", err)
	}
	// Parts written since the copy began hold what older processes
	// inserted meanwhile (and merges of older rows, which collapse).
	newer := fmt.Sprintf(`_part IN (SELECT name FROM system.parts WHERE database = currentDatabase()
		AND table = 'events_before_030' AND active AND modification_time >= toDateTime(%d))`, start.Unix())
	return copyEvents(ctx, db, "events_before_030", "events", newer)
}

// copyEvents inserts from's rows (those where holds, if given) into to.
// Table names and the condition are this file's constants.
func copyEvents(ctx context.Context, db *chdb.DB, from, to, where string) error {
	q := "INSERT INTO " + to + " (" + eventColumns + ") SELECT " + eventColumns + " FROM " + from
	if where != "" {
		q += " WHERE " + where
	}
	if err := db.Exec(ctx, q); err != nil {
		return fmt.Errorf("cannot copy %s into %s: %w", from, to, err)
	}
	return nil
}

// sortingKey is a table's ORDER BY as system.tables shows it ("" when the
// table does not exist).
func sortingKey(ctx context.Context, db *chdb.DB, table string) (string, error) {
	rows, err := db.Query(ctx, "SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = ?", table)
	if err != nil {
		return "", fmt.Errorf("cannot read the sorting key of %s: %w", table, err)
	}
	defer rows.Close()
	var key string
	for rows.Next() {
		if err := rows.Scan(&key); err != nil {
			return "", err
		}
	}
	return key, rows.Err()
}
