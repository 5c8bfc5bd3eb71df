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
			continue // work tables go with the run; other capabilities' tables are the eraser's
		}
		// t.Name is one of snapshotTables, stateTables or seg_member_joins; the values are bound (the
		// statement names the run and the erasures, never a person).
		// (On a cluster Alter sends it where the table's rows are.)
		err := e.db.Alter(ctx, t.Name, "DELETE WHERE site = @site AND run_id = @run AND ("+erasures.Where(t)+")", p...)
		if err != nil {
			return fmt.Errorf("cannot re-apply erasures to %s: %w", t.Name, err)
		}
	}
	done, err := e.db.WaitMutations(ctx, res.RunID, erasureWait)
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
