package segment

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/erasures"
)

// erasureWait bounds how long a run waits for its own deletions before it
// gives up (and fails, leaving the previous run serving).
const erasureWait = 10 * time.Minute

// reapplyErasures deletes from the run's snapshot the people of every
// erasure that was not finished when the run started. Such an erasure's
// mutations changed only the parts that existed when they began: a run
// that read the person's events first, or wrote its rows afterwards,
// would otherwise switch with the person back in its members, profiles,
// interests and recommendations (and the member export). Erasures that
// start later delete from this run's rows themselves: those rows are all
// written by now. The sizes are counted again so the run's history
// matches its members.
func (e *Engine) reapplyErasures(ctx context.Context, res *RunResult, started time.Time) error {
	ids, err := erasures.Overlapping(ctx, e.db, res.Site, started)
	if err != nil || len(ids) == 0 {
		return err
	}
	tables, err := erasures.PersonTables(ctx, e.db)
	if err != nil {
		return err
	}
	p := []any{clickhouse.Named("site", res.Site), clickhouse.Named("run", res.RunID), clickhouse.Named("erasures", ids)}
	for _, t := range tables {
		// The joins this run recorded are kept for ever: an erased person's
		// goes like the snapshot's rows.
		if !slices.Contains(snapshotTables, t.Name) && !slices.Contains(stateTables, t.Name) && t.Name != "seg_member_joins" {
			continue // work tables go with the run; other capabilities' tables are the eraser's, or eraseRedemptions'
		}
		// t.Name is one of snapshotTables, stateTables or seg_member_joins; the values are bound (the
		// statement names the run and the erasures, never a person).
		// (On a cluster Alter sends it where the table's rows are.)
		err := e.db.Alter(ctx, t.Name, "DELETE WHERE site = @site AND run_id = @run AND ("+erasures.Where(t)+")", p...)
		if err != nil {
			return fmt.Errorf("cannot re-apply erasures to %s: %w", t.Name, err)
		}
	}
	if err := e.eraseRedemptions(ctx, res.Site, ids, tables); err != nil {
		return err
	}
	// (On a cluster, on the nodes that answer: a replica that is down
	// deletes the run's rows of the person when it is back, as it does
	// the erasure's own; the erasure stays running until then.)
	done, err := e.db.WaitMutationsAnswering(ctx, res.RunID, erasureWait)
	if err != nil {
		return err
	}
	if !done {
		return fmt.Errorf("re-applying %d erasures to the run took over %s", len(ids), erasureWait)
	}
	rows, err := e.conn(res).Query(ctx, "SELECT audience, count() FROM seg_members WHERE site = @site AND run_id = @run GROUP BY audience", p...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for name := range res.Sizes {
		res.Sizes[name] = 0
	}
	for rows.Next() {
		var name string
		var n uint64
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		if _, ok := res.Sizes[name]; ok {
			res.Sizes[name] = n
		}
	}
	e.log.Info("segment run re-applied erasures", "site", res.Site, "run_id", res.RunID, "erasures", len(ids))
	return rows.Err()
}

// eraseRedemptions deletes the people of erasures ids from
// offer_redemptions. A run's redemption sync (15_redemptions) reads the
// purchases in the events: while an erasure's mutation of the events is
// still going, it finds the person's and records their redemption again,
// after the erasure's mutation of offer_redemptions began, which then
// misses it. The table has no run id: the deletion covers the site. It
// is not waited for: it names the erasures, so Sweep keeps their ids
// until it has finished (a mutation reads them part by part).
func (e *Engine) eraseRedemptions(ctx context.Context, site string, ids []string, tables []erasures.PersonTable) error {
	for _, t := range tables {
		if t.Name != "offer_redemptions" {
			continue
		}
		err := e.db.Alter(ctx, t.Name, "DELETE WHERE site = @site AND ("+erasures.Where(t)+")",
			clickhouse.Named("site", site), clickhouse.Named("erasures", ids))
		if err != nil {
			return fmt.Errorf("cannot re-apply erasures to %s: %w", t.Name, err)
		}
	}
	return nil
}

// forgetRun deletes what a run that never became current left in the
// tables kept for ever, with nothing later to re-apply erasures to it:
// its member joins (nobody joined through a run no reader saw; the next
// run records them) and, for erasures that overlapped it, any
// redemption its sync recorded again (see eraseRedemptions). began is
// when the run started. Errors are logged: the run has failed already.
func (e *Engine) forgetRun(ctx context.Context, site, runID string, began time.Time) {
	p := []any{clickhouse.Named("site", site), clickhouse.Named("run", runID)}
	// A mutation rewrites the table's parts: only when there is a row to go.
	var joins uint64
	err := e.db.QueryRow(ctx, "SELECT count() FROM seg_member_joins WHERE site = @site AND run_id = @run", p...).Scan(&joins)
	if err == nil && joins > 0 {
		err = e.db.Alter(ctx, "seg_member_joins", "DELETE WHERE site = @site AND run_id = @run", p...)
	}
	if err != nil {
		e.log.Warn("cannot delete a failed run's member joins", "site", site, "run_id", runID, "err", err)
	}
	ids, err := erasures.Overlapping(ctx, e.db, site, began)
	if err == nil && len(ids) > 0 {
		var tables []erasures.PersonTable
		if tables, err = erasures.PersonTables(ctx, e.db); err == nil {
			err = e.eraseRedemptions(ctx, site, ids, tables)
		}
	}
	if err != nil {
		e.log.Warn("cannot re-apply erasures to a failed run's redemptions", "site", site, "run_id", runID, "err", err)
	}
}
