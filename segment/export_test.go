package segment

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
)

// RecordAbandoned records a run abandoned as another process's run would
// on finding it silent (dropAbandonedRuns), last seen now.
func (e *Engine) RecordAbandoned(ctx context.Context, site, runID string) error {
	return e.recordAbandoned(ctx, site, runID, time.Now())
}

// DropRun drops every row of a run, as another process's cleanup does.
func (e *Engine) DropRun(ctx context.Context, runID string) error {
	return e.dropRun(ctx, nil, runID, true)
}

// SetAfterPlan installs a hook run once a run has chosen its mode, before
// it reads the previous run's rows.
func (e *Engine) SetAfterPlan(f func(ctx context.Context, site, prev string) error) { e.afterPlan = f }

// SetAfterSwitch installs a hook run right after a run's switch, before
// it drops its work rows.
func (e *Engine) SetAfterSwitch(f func()) { e.afterSwitch = f }

// RanRecently is the scheduler's check for a run started by any process
// within the last 90% of its interval.
func (s *Scheduler) RanRecently(ctx context.Context, site string) (bool, error) {
	return s.ranRecently(ctx, site)
}

// OldRuns lists the site's runs cleanup would drop.
func (e *Engine) OldRuns(ctx context.Context, site string) ([]string, error) {
	return e.oldRuns(ctx, site)
}

// Engine is the engine the scheduler runs (tests pin its clock).
func (s *Scheduler) Engine() *Engine { return s.engine }

// RecordJoins runs a run's member-joins step for one audience: the run's
// members not yet recorded join at asOf.
func (e *Engine) RecordJoins(ctx context.Context, site, runID, audience string, asOf time.Time) error {
	res := &RunResult{Site: site, RunID: runID, AsOf: asOf}
	params := append(e.params(site, runID, asOf), clickhouse.Named("audience", audience))
	return e.step(ctx, res, "joins/"+audience, query("14_member_joins"), params)
}

// EventMonths lists the months holding the site's events (of only, when
// not nil), as a run does to notice one dropped by retention.
func EventMonths(ctx context.Context, db *chdb.DB, site string, only []string) ([]string, error) {
	return eventMonths(ctx, db, site, only)
}

// EventsPartitions lists the events partitions as a run on one server
// does, by name.
func (e *Engine) EventsPartitions(ctx context.Context) ([]string, error) {
	ps, err := e.eventsPartitions(ctx, &RunResult{})
	return ps.names(), err
}
