// Package privacy carries out the data subject's rights and the site's
// retention promise: erasing one visitor (or one signed-in user) from the
// events and from every table derived from them, with an audit trail, and
// dropping event months older than a site's retention.
package privacy

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/erasures"
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
	var visitor, user string
	switch s.Kind {
	case "visitor":
		visitor = s.ID
	case "user":
		user = s.ID
	default:
		return res, fmt.Errorf("erase: kind %q: want visitor or user", s.Kind)
	}
	// The ids go to ClickHouse only as data (erasure_subjects, a batch
	// insert), never in a statement's text: the deletions name the
	// erasure, so system.mutations and the server's query log show its
	// id, not the person's. Segment runs that overlap the erasure read
	// them from there too.
	visitors, err := erasures.Record(ctx, e.db, res.ErasureID, s.Site, visitor, user, started)
	if err != nil {
		return res, err
	}
	res.Visitors = visitors
	tables, err := erasures.PersonTables(ctx, e.db)
	if err != nil {
		return res, err
	}
	var runErr error
	for _, t := range tables {
		// t.Name comes from system.columns of our own databases (Alter
		// quotes it, and on a cluster sends the DELETE where the table's
		// rows are); the values bound are the site and the erasure id. A
		// replica that is down deletes when it is back (replication): the
		// wait below reports the erasure running until then.
		err := e.db.Alter(ctx, t.Name, "DELETE WHERE site = @site AND ("+erasures.Where(t)+")",
			clickhouse.Named("site", s.Site), clickhouse.Named("erasures", []string{res.ErasureID}))
		if err != nil {
			runErr = fmt.Errorf("cannot erase from %s: %w", t.Name, err)
			break
		}
		res.Tables = append(res.Tables, t.Name)
	}
	res.Status = "done"
	if runErr == nil {
		done, err := e.db.WaitMutations(ctx, res.ErasureID, e.Wait)
		switch {
		case err != nil:
			runErr = err
		case !done:
			res.Status = "running" // erasures.Sweep marks it done later
		default:
			if err := erasures.MarkDone(ctx, e.db, res.ErasureID, s.Site, time.Now().UTC()); err != nil {
				runErr = err
			}
		}
	}
	if runErr != nil {
		res.Status = "failed"
	}
	e.audit(ctx, site, s, requestedBy, res, started, runErr)
	erasures.Sweep(context.WithoutCancel(ctx), e.db, e.log)
	if runErr != nil {
		return res, runErr
	}
	e.log.Info("erasure", "site", s.Site, "kind", s.Kind, "erasure_id", res.ErasureID, "visitors", res.Visitors, "tables", len(res.Tables), "status", res.Status)
	return res, nil
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
