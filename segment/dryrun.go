package segment

import (
	"context"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/config"
)

// A dry run counts who a definition would select now, without storing
// the definition or publishing anything: the editor's live preview. It
// computes the steps membership needs (profiles with the definition's
// event conditions; interests only for stage and score conditions) and
// the audience's members under a run id of its own, counts them by group
// and drops them. Nothing else is computed, so a preview costs about one
// read of the site's events. Dry runs and runs of a site take turns.

// DryRunResult is a definition's member count now.
type DryRunResult struct {
	Members   uint64        `json:"members"`
	Treatment uint64        `json:"treatment"`
	Holdout   uint64        `json:"holdout"`
	AsOf      time.Time     `json:"as_of"`
	Took      time.Duration `json:"-"`
}

// dryRunSuffix marks a dry run's run id, and evalRunPrefix an
// evaluation's: their rows are scratch, left to the process that owns
// them until they are scratchRunsLast old (dropStaleScratchRuns).
const (
	dryRunSuffix    = "-dry"
	evalRunPrefix   = "e"
	scratchRunsLast = time.Hour
)

// DryRun validates a (as PutAudience does) and counts its members now.
func (e *Engine) DryRun(ctx context.Context, site string, a config.Audience) (DryRunResult, error) {
	if err := e.checkDefinition(ctx, site, a); err != nil {
		return DryRunResult{}, err
	}
	// A dry run waits for the site's run lock, so it never overlaps a run
	// (or another dry run) of this process: on ClickHouse 18.16 one's DROP
	// PARTITION and the other's query reading a table twice deadlock.
	if err := e.lockForDryRun(ctx, site); err != nil {
		return DryRunResult{}, err
	}
	defer e.unlockDryRun(site)
	plan, err := planEvents([]config.Audience{a})
	if err != nil {
		return DryRunResult{}, invalid(err)
	}
	started := time.Now()
	res := RunResult{Site: site, RunID: newRunID() + dryRunSuffix, AsOf: e.Now().UTC().Truncate(time.Second), Sizes: map[string]uint64{}}
	if e.db.Cluster != nil {
		// Like a run: per-visitor steps on every shard.
		if res.cluster, err = newClusterRun(ctx, e.db); err == nil {
			err = res.cluster.settleCatalog(ctx, site)
		}
		if err != nil {
			return DryRunResult{}, err
		}
	}
	e.dropStaleScratchRuns(ctx, res.cluster, site)
	defer e.dropRun(context.WithoutCancel(ctx), res.cluster, res.RunID, true)
	params := e.params(site, res.RunID, res.AsOf)
	keep := map[string]bool{"00_opted_out": true, "00_identities": true, "01_numbers": true, "03_profiles": true, "04_opted_out_profiles": true}
	after := []string{"03_profiles", "04_opted_out_profiles"}
	if needsInterests(a) {
		keep["01_unknown_products"], keep["02_interests"] = true, true
		after = append(after, "02_interests")
	}
	var tasks []task
	for _, t := range e.sharedTasks(ctx, &res, params, plan, false, nil) {
		if keep[t.name] {
			tasks = append(tasks, t)
		}
	}
	tasks = append(tasks, task{name: "members", after: after, run: func() error { return e.computeMembers(ctx, &res, params, a, plan) }})
	if err := runGraph(2, tasks); err != nil {
		return DryRunResult{}, err
	}
	out := DryRunResult{AsOf: res.AsOf}
	if c := res.cluster; c != nil {
		if err := c.settleAll(ctx, res.RunID, []string{"seg_members"}); err != nil {
			return DryRunResult{}, err
		}
	}
	// The dry run's members by group.
	err = e.conn(&res).QueryRow(ctx, `SELECT count(), countIf(grp = @holdout) FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience`,
		clickhouse.Named("site", site), clickhouse.Named("run", res.RunID), clickhouse.Named("audience", a.Name), clickhouse.Named("holdout", Holdout)).
		Scan(&out.Members, &out.Holdout)
	out.Treatment = out.Members - out.Holdout
	out.Took = time.Since(started)
	return out, err
}

// needsInterests reports whether a condition of a reads seg_interests.
func needsInterests(a config.Audience) bool {
	for _, c := range append(append([]config.Condition{}, a.Include...), a.Exclude...) {
		if !fromProfiles(c) {
			return true
		}
	}
	return false
}

// dropStaleScratchRuns removes the scratch rows of dry runs and
// evaluations that crashed: their run ids (…-dry, e…) start with the time
// they started, more than scratchRunsLast ago. Every one of them writes
// opted-out visitors first.
func (e *Engine) dropStaleScratchRuns(ctx context.Context, c *clusterRun, site string) {
	rows, err := e.db.Query(ctx, `SELECT DISTINCT run_id FROM seg_opted_out
		WHERE site = @site AND (endsWith(run_id, @suffix) OR startsWith(run_id, @eval))`,
		clickhouse.Named("site", site), clickhouse.Named("suffix", dryRunSuffix), clickhouse.Named("eval", evalRunPrefix))
	if err != nil {
		e.log.Warn("cannot list scratch runs", "site", site, "err", err)
		return
	}
	var stale []string
	for rows.Next() {
		var id string
		if rows.Scan(&id) != nil {
			continue
		}
		started := strings.TrimPrefix(strings.TrimPrefix(id, evalRunPrefix), "r")
		if at, err := time.Parse("20060102T150405", started[:min(15, len(started))]); err == nil && time.Since(at) > scratchRunsLast {
			stale = append(stale, id)
		}
	}
	rows.Close()
	for _, id := range stale {
		e.dropRun(ctx, c, id, true)
	}
}
