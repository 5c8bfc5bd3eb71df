// Package privacy carries out the data subject's rights and the site's
// retention promise: erasing one visitor (or one signed-in user) from the
// events and from every table derived from them, with an audit trail, and
// dropping event months older than a site's retention.
package privacy

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
)

// Eraser deletes people from ClickHouse.
type Eraser struct {
	cfg config.Config
	db  *chdb.DB
	log *slog.Logger
	// Wait bounds how long Erase waits for ClickHouse to finish the
	// mutations (default 2m); past it the erasure is reported "running".
	Wait time.Duration
}

// NewEraser returns an Eraser for the configured sites on db.
func NewEraser(cfg config.Config, db *chdb.DB, log *slog.Logger) *Eraser {
	return &Eraser{cfg: cfg, db: db, log: log, Wait: 2 * time.Minute}
}

// Subject is who to erase: a visitor (anonymous id) or a user id, whose
// every visitor id seen with it is erased too.
type Subject struct {
	Site string
	Kind string // "visitor" or "user"
	ID   string
}

// Result reports an erasure.
type Result struct {
	ErasureID string   `json:"erasure_id"`
	Kind      string   `json:"kind"`
	Visitors  int      `json:"visitors"` // visitor ids covered
	Tables    []string `json:"tables"`
	Status    string   `json:"status"` // done, or running when ClickHouse is still deleting
}

// personTable is a table holding rows about one person.
type personTable struct {
	name                string
	hasVisitor, hasUser bool
	hasHash             bool // vh = cityHash64(visitor_id), the segment tables' key
}

// tables finds every MergeTree table of the database with a site column
// and a visitor_id, user_id or vh (a visitor's hash) column: the events
// and whatever segment, feed or future capability derived from them.
// Finding them at run time means a new derived table cannot be forgotten
// here.
func (e *Eraser) tables(ctx context.Context) ([]personTable, error) {
	// Tables of the current database that hold per-person rows.
	rows, err := e.db.Query(ctx, `
		SELECT c.table,
		       countIf(c.name = 'visitor_id') AS v,
		       countIf(c.name = 'user_id') AS u,
		       countIf(c.name = 'vh' AND c.type = 'UInt64') AS h,
		       countIf(c.name = 'site') AS s
		FROM system.columns AS c
		WHERE c.database = currentDatabase()
		  AND c.table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree%')
		GROUP BY c.table
		ORDER BY c.table`)
	if err != nil {
		return nil, fmt.Errorf("cannot list tables: %w", err)
	}
	defer rows.Close()
	var out []personTable
	for rows.Next() {
		var name string
		var v, u, h, s uint64
		if err := rows.Scan(&name, &v, &u, &h, &s); err != nil {
			return nil, err
		}
		if s > 0 && (v > 0 || u > 0 || h > 0) && name != subjectsTable {
			out = append(out, personTable{name: name, hasVisitor: v > 0, hasUser: u > 0, hasHash: h > 0})
		}
	}
	return out, rows.Err()
}

// Erase removes the subject from every person table, waits for the
// deletions and records the erasure in erasure_log. requestedBy says who
// asked (never personal data: "admin_api:<token fingerprint>", "cli").
func (e *Eraser) Erase(ctx context.Context, s Subject, requestedBy string) (Result, error) {
	res := Result{ErasureID: uuid.NewString(), Kind: s.Kind, Tables: []string{}}
	if s.ID == "" || len(s.ID) > 200 {
		return res, fmt.Errorf("erase: id must be 1-200 characters")
	}
	site, ok := e.cfg.Site(s.Site)
	if !ok {
		return res, fmt.Errorf("erase: site %q is not configured", s.Site)
	}
	started := time.Now().UTC()
	// The ids go to ClickHouse only as data (erasure_subjects, a batch
	// insert), never in a statement's text: the deletions name the
	// erasure, so system.mutations and the server's query log show its
	// id, not the person's.
	visitors, err := e.recordSubject(ctx, res.ErasureID, s, started)
	if err != nil {
		return res, err
	}
	res.Visitors = visitors
	tables, err := e.tables(ctx)
	if err != nil {
		return res, err
	}
	var runErr error
	for _, t := range tables {
		where := personFilter(t, s)
		if where == "" {
			continue
		}
		// t.name comes from system.columns of our own database, quoted as
		// an identifier; the values bound are the site and the erasure id.
		stmt := fmt.Sprintf("ALTER TABLE %s DELETE WHERE site = @site AND (%s)", quoteIdent(t.name), where)
		if err := e.db.Exec(ctx, stmt, clickhouse.Named("site", s.Site), clickhouse.Named("erasure", res.ErasureID)); err != nil {
			runErr = fmt.Errorf("cannot erase from %s: %w", t.name, err)
			break
		}
		res.Tables = append(res.Tables, t.name)
	}
	res.Status = "done"
	if runErr == nil {
		done, err := e.waitMutations(ctx, res.ErasureID)
		if err != nil {
			runErr = err
		} else if !done {
			res.Status = "running"
		}
	}
	if runErr != nil {
		res.Status = "failed"
	}
	e.audit(ctx, site, s, requestedBy, res, started, runErr)
	e.dropFinishedSubjects(context.WithoutCancel(ctx))
	if runErr != nil {
		return res, runErr
	}
	e.log.Info("erasure", "site", s.Site, "kind", s.Kind, "erasure_id", res.ErasureID, "visitors", res.Visitors, "tables", len(res.Tables), "status", res.Status)
	return res, nil
}

// personFilter is the WHERE clause selecting the erasure's subject rows in
// t, through erasure_subjects: @erasure is the erasure id.
func personFilter(t personTable, s Subject) string {
	const (
		visitors = "SELECT visitor_id FROM erasure_subjects WHERE erasure_id = @erasure AND visitor_id != ''"
		hashes   = "SELECT cityHash64(visitor_id) FROM erasure_subjects WHERE erasure_id = @erasure AND visitor_id != ''"
		users    = "SELECT user_id FROM erasure_subjects WHERE erasure_id = @erasure AND user_id != ''"
	)
	var parts []string
	if t.hasVisitor {
		parts = append(parts, "visitor_id IN ("+visitors+")")
	}
	if t.hasHash {
		parts = append(parts, "vh IN ("+hashes+")")
	}
	if t.hasUser && s.Kind == "user" {
		parts = append(parts, "user_id IN ("+users+")")
	}
	return strings.Join(parts, " OR ")
}

// waitMutations polls system.mutations until the erasure's mutations
// (their text names its id) are done, or Wait passes (false).
func (e *Eraser) waitMutations(ctx context.Context, erasureID string) (bool, error) {
	deadline := time.Now().Add(e.Wait)
	for {
		pending, err := e.pendingMutations(ctx, erasureID)
		if err != nil {
			return false, err
		}
		if pending == 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// pendingMutations counts the erasure's unfinished mutations.
func (e *Eraser) pendingMutations(ctx context.Context, erasureID string) (uint64, error) {
	var n uint64
	// Unfinished mutations whose text names the erasure.
	err := e.db.QueryRow(ctx, `SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0 AND position(command, ?) > 0`,
		erasureID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("cannot read system.mutations: %w", err)
	}
	return n, nil
}

func (e *Eraser) audit(ctx context.Context, site config.Site, s Subject, by string, res Result, started time.Time, runErr error) {
	msg := ""
	if runErr != nil {
		msg = runErr.Error()
	}
	key, keyName := SubjectKey(e.cfg, site)
	err := e.db.InsertRow(context.WithoutCancel(ctx),
		"INSERT INTO erasure_log (site, erasure_id, requested_at, finished_at, requested_by, subject_kind, subject_sha256, subject_key, visitors, tables, status, error)",
		s.Site, uuid.MustParse(res.ErasureID), started, time.Now().UTC(), by, s.Kind, SubjectHash(key, s.Site, s.ID), keyName,
		uint32(res.Visitors), res.Tables, res.Status, msg)
	if err != nil {
		e.log.Error("cannot write erasure_log", "erasure_id", res.ErasureID, "err", err)
	}
}

func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "`", "\\`") + "`"
}
