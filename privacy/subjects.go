package privacy

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// subjectsTable holds the ids of erasures in progress (migration 053),
// one partition per erasure. The deletions read the ids from it, so an
// id is never part of a statement's text: not in system.mutations, not
// in the server's query log. A partition is dropped as soon as nothing
// needs it any more (dropFinishedSubjects).
const subjectsTable = "erasure_subjects"

// recordSubject writes the erasure's ids to erasure_subjects: the
// visitor id, or the user id and every visitor id seen with it. It
// returns how many visitor ids the erasure covers.
func (e *Eraser) recordSubject(ctx context.Context, erasureID string, s Subject, at time.Time) (int, error) {
	var visitor, user string
	switch s.Kind {
	case "visitor":
		visitor = s.ID
	case "user":
		user = s.ID
	default:
		return 0, fmt.Errorf("erase: kind %q: want visitor or user", s.Kind)
	}
	// A batch insert: the id travels as data, not as text.
	if err := e.db.InsertRow(ctx, "INSERT INTO erasure_subjects (erasure_id, site, requested_at, visitor_id, user_id)",
		erasureID, s.Site, at, visitor, user); err != nil {
		return 0, fmt.Errorf("cannot record the erasure's subject: %w", err)
	}
	p := []any{clickhouse.Named("erasure", erasureID), clickhouse.Named("site", s.Site), clickhouse.Named("at", at)}
	if user != "" {
		// Every anonymous id the user was seen with.
		err := e.db.Exec(ctx, `INSERT INTO erasure_subjects (erasure_id, site, requested_at, visitor_id, user_id)
			SELECT @erasure, @site, @at, visitor_id, ''
			FROM events
			WHERE site = @site AND visitor_id != ''
			  AND user_id IN (SELECT user_id FROM erasure_subjects WHERE erasure_id = @erasure AND user_id != '')
			GROUP BY visitor_id`, p...)
		if err != nil {
			return 0, fmt.Errorf("cannot find the user's visitor ids: %w", err)
		}
	}
	var n uint64
	// The visitor ids the erasure covers.
	if err := e.db.QueryRow(ctx, "SELECT uniqExact(visitor_id) FROM erasure_subjects WHERE erasure_id = @erasure AND visitor_id != ''", p...).Scan(&n); err != nil {
		return 0, err
	}
	return int(n), nil
}

// dropFinishedSubjects drops the ids of every erasure whose deletions are
// done: a mutation reads its IN (SELECT … FROM erasure_subjects) when it
// rewrites each part, so the ids stay until the last one has finished.
// An erasure still running when Erase returned is dropped by a later
// erasure.
func (e *Eraser) dropFinishedSubjects(ctx context.Context) {
	rows, err := e.db.Query(ctx, "SELECT DISTINCT erasure_id FROM erasure_subjects")
	if err != nil {
		e.log.Warn("cannot list erasure subjects", "err", err)
		return
	}
	var ids []string
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	rows.Close()
	for _, id := range ids {
		if n, err := e.pendingMutations(ctx, id); err != nil || n > 0 {
			continue
		}
		// The partition value is the erasure id, bound.
		if err := e.db.Exec(ctx, "ALTER TABLE erasure_subjects DROP PARTITION @erasure", clickhouse.Named("erasure", id)); err != nil {
			e.log.Warn("cannot drop erasure subjects", "erasure_id", id, "err", err)
		}
	}
}
