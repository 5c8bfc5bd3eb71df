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
		if s > 0 && (v > 0 || u > 0 || h > 0) {
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
	visitors := []string{}
	if s.Kind == "visitor" {
		visitors = append(visitors, s.ID)
	} else {
		// Every anonymous id the user was seen with.
		rows, err := e.db.Query(ctx, `SELECT DISTINCT visitor_id FROM events WHERE site = ? AND user_id = ? AND visitor_id != ''`, s.Site, s.ID)
		if err != nil {
			return res, fmt.Errorf("cannot find the user's visitor ids: %w", err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return res, err
			}
			visitors = append(visitors, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return res, err
		}
	}
	res.Visitors = len(visitors)
	tables, err := e.tables(ctx)
	if err != nil {
		return res, err
	}
	var runErr error
	for _, t := range tables {
		where, args := personFilter(t, s, visitors)
		if where == "" {
			continue
		}
		// t.name comes from system.columns of our own database, quoted as an identifier.
		stmt := fmt.Sprintf("ALTER TABLE %s DELETE WHERE site = ? AND (%s)", quoteIdent(t.name), where)
		if err := e.db.Exec(ctx, stmt, append([]any{s.Site}, args...)...); err != nil {
			runErr = fmt.Errorf("cannot erase from %s: %w", t.name, err)
			break
		}
		res.Tables = append(res.Tables, t.name)
	}
	res.Status = "done"
	if runErr == nil {
		done, err := e.waitMutations(ctx, res.Tables)
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
	if runErr != nil {
		return res, runErr
	}
	e.log.Info("erasure", "site", s.Site, "kind", s.Kind, "erasure_id", res.ErasureID, "visitors", res.Visitors, "tables", len(res.Tables), "status", res.Status)
	return res, nil
}

// personFilter is the WHERE clause selecting the subject's rows in t.
func personFilter(t personTable, s Subject, visitors []string) (string, []any) {
	var parts []string
	var args []any
	if t.hasVisitor && len(visitors) > 0 {
		parts = append(parts, "has(?, visitor_id)")
		args = append(args, visitors)
	}
	if t.hasHash && len(visitors) > 0 {
		parts = append(parts, "has(arrayMap(x -> cityHash64(x), ?), vh)")
		args = append(args, visitors)
	}
	if t.hasUser && s.Kind == "user" {
		parts = append(parts, "user_id = ?")
		args = append(args, s.ID)
	}
	return strings.Join(parts, " OR "), args
}

// waitMutations polls system.mutations until the tables have no
// unfinished mutation, or Wait passes (false).
func (e *Eraser) waitMutations(ctx context.Context, tables []string) (bool, error) {
	if len(tables) == 0 {
		return true, nil
	}
	deadline := time.Now().Add(e.Wait)
	for {
		var pending uint64
		// Unfinished mutations on the tables just mutated.
		err := e.db.QueryRow(ctx, `SELECT count() FROM system.mutations WHERE database = currentDatabase() AND has(?, table) AND is_done = 0`, tables).Scan(&pending)
		if err != nil {
			return false, fmt.Errorf("cannot read system.mutations: %w", err)
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
