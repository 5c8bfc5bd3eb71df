// Package erasures is where erasing a person (package privacy) and
// segment runs meet: the ids of erasures in progress, kept in the
// erasure_subjects table (migration 053), and the rules both sides apply
// to them.
//
// An erasure deletes the person's rows with mutations, which change only
// the parts that exist when they start. A segment run that read the
// person's events before the erasure and writes its snapshot after it
// would bring the person back. So a run, before it switches, deletes
// from its own snapshot the subjects of every erasure that was not
// finished when the run started (Overlapping), and an erasure's ids stay
// in erasure_subjects until no run that may need them is still going
// (Sweep). The table is in ClickHouse, so this holds for every site and
// every serve instance sharing it.
//
// Ids reach ClickHouse only as data: statements name erasures by their
// id, so the person's ids appear in no statement text (system.mutations,
// query logs).
package erasures

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
)

// Table is the table of erasures in progress.
const Table = "erasure_subjects"

// staleRun is how long a run marked running is believed to be going: a
// process that died mid-run leaves its run "running" for good.
const staleRun = 24 * time.Hour

// PersonTable is a table holding rows about one person.
type PersonTable struct {
	Name                string
	HasVisitor, HasUser bool
	HasHash             bool // vh = cityHash64(visitor_id), the segment tables' key
	// Subjects is erasure_subjects with its database: a mutation's
	// subquery runs on each replica, in whatever database it has at hand.
	Subjects string
}

// PersonTables finds every MergeTree table of the database with a site
// column and a visitor_id, user_id or vh (a visitor's hash) column: the
// events and whatever segment, feed or future capability derived from
// them. Finding them at run time means a new derived table cannot be
// forgotten. erasure_subjects itself is left out. On a cluster a sharded
// table's rows are in the shard database (chdb.Cluster): its MergeTree
// tables count too, by the same names (chdb.DB.Alter finds them).
func PersonTables(ctx context.Context, db *chdb.DB) ([]PersonTable, error) {
	databases := []string{db.Database}
	if c := db.Cluster; c != nil {
		databases = append(databases, c.Local)
	}
	// Tables that hold per-person rows.
	rows, err := db.Query(ctx, `
		SELECT c.table,
		       countIf(c.name = 'visitor_id') AS v,
		       countIf(c.name = 'user_id') AS u,
		       countIf(c.name = 'vh' AND c.type = 'UInt64') AS h,
		       countIf(c.name = 'site') AS s
		FROM system.columns AS c
		WHERE has(?, c.database)
		  AND (c.database, c.table) IN (SELECT database, name FROM system.tables WHERE has(?, database) AND engine LIKE '%MergeTree%')
		GROUP BY c.table
		ORDER BY c.table`, databases, databases)
	if err != nil {
		return nil, fmt.Errorf("cannot list tables: %w", err)
	}
	defer rows.Close()
	var out []PersonTable
	for rows.Next() {
		var name string
		var v, u, h, s uint64
		if err := rows.Scan(&name, &v, &u, &h, &s); err != nil {
			return nil, err
		}
		if s > 0 && (v > 0 || u > 0 || h > 0) && name != Table {
			out = append(out, PersonTable{Name: name, HasVisitor: v > 0, HasUser: u > 0, HasHash: h > 0, Subjects: db.Database + "." + Table})
		}
	}
	return out, rows.Err()
}

// Where is the condition selecting, in t, the rows of the subjects of the
// erasures named by the bound parameter @erasures (an Array(String)):
// their visitor ids, those ids' hashes and their user ids.
func Where(t PersonTable) string {
	var (
		visitors = "SELECT visitor_id FROM " + t.Subjects + " WHERE has(@erasures, erasure_id) AND visitor_id != ''"
		hashes   = "SELECT cityHash64(visitor_id) FROM " + t.Subjects + " WHERE has(@erasures, erasure_id) AND visitor_id != ''"
		users    = "SELECT user_id FROM " + t.Subjects + " WHERE has(@erasures, erasure_id) AND user_id != ''"
	)
	var parts []string
	if t.HasVisitor {
		parts = append(parts, "visitor_id IN ("+visitors+")")
	}
	if t.HasHash {
		parts = append(parts, "vh IN ("+hashes+")")
	}
	if t.HasUser {
		parts = append(parts, "user_id IN ("+users+")")
	}
	return strings.Join(parts, " OR ")
}

// Record writes an erasure's ids: a visitor id, or a user id and every
// visitor id seen with it in the events. It returns how many visitor ids
// the erasure covers.
func Record(ctx context.Context, db *chdb.DB, erasureID, site, visitor, user string, at time.Time) (int, error) {
	// A batch insert: the id travels as data, not as text.
	if err := db.InsertRow(ctx, "INSERT INTO erasure_subjects (erasure_id, site, requested_at, visitor_id, user_id, done_at)",
		erasureID, site, at, visitor, user, time.Unix(0, 0)); err != nil {
		return 0, fmt.Errorf("cannot record the erasure's subject: %w", err)
	}
	p := []any{clickhouse.Named("erasures", []string{erasureID}), clickhouse.Named("erasure", erasureID),
		clickhouse.Named("site", site), clickhouse.Named("at", at)}
	if user != "" {
		// Every anonymous id the user was seen with. (GLOBAL: on a
		// cluster events is a Distributed table, and each shard would
		// look for erasure_subjects in its default database.)
		err := db.Exec(ctx, `INSERT INTO erasure_subjects (erasure_id, site, requested_at, visitor_id, user_id, done_at)
			SELECT @erasure, @site, @at, visitor_id, '', toDateTime(0)
			FROM events
			WHERE site = @site AND visitor_id != ''
			  AND user_id GLOBAL IN (SELECT user_id FROM erasure_subjects WHERE has(@erasures, erasure_id) AND user_id != '')
			GROUP BY visitor_id`, p...)
		if err != nil {
			return 0, fmt.Errorf("cannot find the user's visitor ids: %w", err)
		}
	}
	if err := settle(ctx, db, erasureID); err != nil {
		return 0, err
	}
	var n uint64
	// The visitor ids the erasure covers.
	if err := db.QueryRow(ctx, "SELECT uniqExact(visitor_id) FROM erasure_subjects WHERE has(@erasures, erasure_id) AND visitor_id != ''", p...).Scan(&n); err != nil {
		return 0, err
	}
	return int(n), nil
}

// settle waits, on a cluster, until every node holds the erasure's ids:
// each replica runs the deletions' subqueries on its own copy of
// erasure_subjects (replicated whole to every node), and one that had not
// fetched them yet would delete nothing. A node that does not answer
// gets them when it is back, before it runs the mutations queued for it.
func settle(ctx context.Context, db *chdb.DB, erasureID string) error {
	return db.Settle(ctx, "the erasure's ids", Table, "erasure_id = ?", erasureID)
}

// MarkDone records that the erasure's deletions had all finished at at:
// runs that start later read events without the person.
func MarkDone(ctx context.Context, db *chdb.DB, erasureID, site string, at time.Time) error {
	err := db.InsertRow(ctx, "INSERT INTO erasure_subjects (erasure_id, site, requested_at, visitor_id, user_id, done_at)",
		erasureID, site, at, "", "", at)
	if err != nil {
		return fmt.Errorf("cannot mark erasure %s done: %w", erasureID, err)
	}
	return nil
}

// Overlapping lists the erasures of site that a run which started at
// started must apply to its snapshot before it switches: those not
// finished before it started (the run may have read the person's events,
// or written rows after the erasure's mutations began).
func Overlapping(ctx context.Context, db *chdb.DB, site string, started time.Time) ([]string, error) {
	// Erasures of the site unfinished, or finished at or after the run's
	// start (to the second, so a tie counts as overlapping).
	rows, err := db.Query(ctx, `SELECT erasure_id FROM erasure_subjects WHERE site = ?
		GROUP BY erasure_id
		HAVING max(done_at) = toDateTime(0) OR max(done_at) >= ?
		ORDER BY erasure_id`, site, started.UTC().Truncate(time.Second))
	if err != nil {
		return nil, fmt.Errorf("cannot read erasures in progress: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Sweep drops the ids of every erasure nobody needs any more: its
// deletions are done (a mutation reads its subquery part by part, so
// the ids must outlive it) and no run of its site that started before it
// finished is still going. An erasure that Erase left running (202) or
// that failed is marked done here once its mutations have finished; one
// whose process died before it could say so, after a day. Errors are
// logged: a later sweep tries again.
func Sweep(ctx context.Context, db *chdb.DB, log *slog.Logger) {
	rows, err := db.Query(ctx, `SELECT erasure_id, any(site), min(requested_at), max(done_at),
			erasure_id IN (SELECT toString(erasure_id) FROM erasure_log) AS logged
		FROM erasure_subjects GROUP BY erasure_id`)
	if err != nil {
		log.Warn("cannot list erasures in progress", "err", err)
		return
	}
	type erasure struct {
		id, site        string
		requested, done time.Time
		logged          uint8
	}
	var all []erasure
	for rows.Next() {
		var e erasure
		if err := rows.Scan(&e.id, &e.site, &e.requested, &e.done, &e.logged); err != nil {
			log.Warn("cannot list erasures in progress", "err", err)
			rows.Close()
			return
		}
		all = append(all, e)
	}
	rows.Close()
	now := time.Now().UTC()
	for _, e := range all {
		// Only an erasure that has logged its end (or died long ago) is
		// marked done here: one still creating its mutations has none
		// pending yet.
		if e.done.Unix() <= 0 && e.logged == 0 && now.Sub(e.requested) < staleRun {
			continue
		}
		// Every deletion naming the erasure reads its ids: its own, and
		// those a run began after it was marked done (re-applying it to
		// redemptions its sync recorded again).
		if n, err := db.PendingMutations(ctx, e.id); err != nil || n > 0 {
			continue
		}
		if e.done.Unix() <= 0 {
			if err := MarkDone(ctx, db, e.id, e.site, now); err != nil {
				log.Warn("cannot mark erasure done", "erasure_id", e.id, "err", err)
				continue
			}
			e.done = now
			// The audit trail says when it finished: a second row, like
			// the first but done (erasure_log is append-only).
			if err := db.Exec(ctx, `INSERT INTO erasure_log (site, erasure_id, requested_at, finished_at, requested_by, subject_kind, subject_sha256, subject_key, visitors, tables, status, error)
				SELECT site, erasure_id, requested_at, toDateTime(@at), requested_by, subject_kind, subject_sha256, subject_key, visitors, tables, 'done', ''
				FROM erasure_log WHERE erasure_id = toUUID(@erasure) AND status = 'running' LIMIT 1`,
				clickhouse.Named("at", now), clickhouse.Named("erasure", e.id)); err != nil {
				log.Warn("cannot log erasure done", "erasure_id", e.id, "err", err)
			}
		}
		var running uint64
		// Runs of the site still going that started before the erasure
		// finished (they may hold the person's rows until they re-apply it).
		// Read by seg_runs' key: v_segment_runs groups every site's runs
		// on 18.16. Every row of a run has its started_at.
		err := db.QueryRow(ctx, `SELECT count() FROM (
				SELECT run_id FROM seg_runs WHERE site = ? AND started_at <= ? AND started_at >= ?
				GROUP BY run_id HAVING argMax(status, updated) = 'running')`,
			e.site, e.done.Truncate(time.Second), now.Add(-staleRun)).Scan(&running)
		if err != nil || running > 0 {
			continue
		}
		// The partition value is the erasure id, bound.
		if err := db.Exec(ctx, "ALTER TABLE erasure_subjects DROP PARTITION @erasure", clickhouse.Named("erasure", e.id)); err != nil {
			log.Warn("cannot drop erasure subjects", "erasure_id", e.id, "err", err)
		}
	}
}
