package segment

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// A process that dies mid-run (SIGKILL, out of memory, a machine that
// restarts) leaves its run marked running, with its rows in every segment
// table: cleanup leaves running runs alone, so they would stay for good,
// and with them any erased person's rows the run wrote after the erasure
// (a run re-applies erasures only just before its switch). So a run says
// it is alive while it computes, by recording itself again with a new
// `updated`; a run silent for segments.run_abandoned_after is taken for
// dead, and the site's next run drops its rows and records it failed.

var abandonedRuns = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "remarket_segment_abandoned_runs_total",
	Help: "Segment runs found abandoned (their process stopped mid-run), whose rows were dropped, by site.",
}, []string{"site"})

// heartbeatEvery is how often a run says it is alive: every minute, or
// five times within the silence that makes it abandoned.
func heartbeatEvery(abandonedAfter time.Duration) time.Duration {
	return min(time.Minute, abandonedAfter/5)
}

// heartbeat records run runID of site as alive every heartbeatEvery until the returned
// stop is called; stop returns once no beat can land after it, so the
// run's final status is the newest row. A beat copies the run's newest
// row with a new `updated`, so it never changes what the row says: a run
// another process took for abandoned stays failed.
func (e *Engine) heartbeat(ctx context.Context, site, runID string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(heartbeatEvery(time.Duration(e.cfg.Segments.RunAbandonedAfter)))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := e.db.Exec(ctx, `INSERT INTO seg_runs (site, run_id, started_at, finished_at, status, error, as_of, audiences, updated)
				SELECT site, run_id, started_at, finished_at, status, error, as_of, audiences, @updated
				FROM seg_runs WHERE site = @site AND run_id = @run ORDER BY updated DESC LIMIT 1`,
				clickhouse.Named("site", site), clickhouse.Named("run", runID), clickhouse.Named("updated", uint64(time.Now().UnixNano())))
			if err != nil && ctx.Err() == nil {
				e.log.Warn("cannot record that the segment run is alive", "site", site, "run_id", runID, "err", err)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// dropAbandonedRuns drops the rows of the site's runs silent for
// segments.run_abandoned_after and records them failed, the rows first:
// erasures stop waiting for a run once it is no longer running. A run
// whose rows could not all be dropped stays running, for the next run to
// try again.
func (e *Engine) dropAbandonedRuns(ctx context.Context, c *clusterRun, site string) {
	after := time.Duration(e.cfg.Segments.RunAbandonedAfter)
	rows, err := e.db.Query(ctx, `SELECT run_id, min(updated) AS began, max(updated) AS seen
		FROM seg_runs WHERE site = @site
		GROUP BY run_id
		HAVING argMax(status, updated) = 'running' AND seen < @before`,
		clickhouse.Named("site", site), clickhouse.Named("before", uint64(time.Now().Add(-after).UnixNano())))
	if err != nil {
		e.log.Warn("cannot look for abandoned segment runs", "site", site, "err", err)
		return
	}
	type run struct {
		id          string
		began, seen uint64
	}
	var abandoned []run
	for rows.Next() {
		var r run
		if rows.Scan(&r.id, &r.began, &r.seen) == nil {
			abandoned = append(abandoned, r)
		}
	}
	rows.Close()
	for _, r := range abandoned {
		seen := time.Unix(0, int64(r.seen)).UTC()
		if err := e.dropRun(ctx, c, r.id, true); err != nil {
			e.log.Warn("cannot drop an abandoned segment run's rows; the next run tries again", "site", site, "run_id", r.id, "err", err)
			continue
		}
		e.forgetRun(ctx, site, r.id, time.Unix(0, int64(r.began)))
		if err := e.recordAbandoned(ctx, site, r.id, seen); err != nil {
			e.log.Warn("cannot record an abandoned segment run failed", "site", site, "run_id", r.id, "err", err)
			continue
		}
		abandonedRuns.WithLabelValues(site).Inc()
		e.log.Warn("segment run abandoned: its rows were dropped", "site", site, "run_id", r.id, "last_seen", seen)
	}
}

// abandonedRank is added to the `updated` of the row that records a run
// abandoned, so that row stays the run's newest whatever the run writes
// after it, if it was only paused: a heartbeat that read the run's row
// just before it landed, or the run's own final status.
const abandonedRank = 1 << 62

// recordAbandoned records run runID of site failed as abandoned, last
// seen alive at seen.
func (e *Engine) recordAbandoned(ctx context.Context, site, runID string, seen time.Time) error {
	msg := fmt.Sprintf("abandoned: the process running it stopped without finishing (killed, out of memory or its machine restarted); "+
		"no sign of it since %s, over %s ago (segments.run_abandoned_after); its rows were dropped", seen.Format(time.DateTime+" MST"), time.Duration(e.cfg.Segments.RunAbandonedAfter))
	return e.db.Exec(ctx, `INSERT INTO seg_runs (site, run_id, started_at, finished_at, status, error, as_of, audiences, updated)
		SELECT site, run_id, started_at, toDateTime(@seen), 'failed', @msg, as_of, audiences, @updated
		FROM seg_runs WHERE site = @site AND run_id = @run ORDER BY updated DESC LIMIT 1`,
		clickhouse.Named("site", site), clickhouse.Named("run", runID), clickhouse.Named("seen", seen.Unix()),
		clickhouse.Named("msg", msg), clickhouse.Named("updated", uint64(time.Now().UnixNano())+abandonedRank))
}

// errAbandoned means another process took the run for abandoned (it was
// silent too long: the process or its machine was paused) and dropped
// its rows, so the run must not switch readers to it.
var errAbandoned = errors.New("another process took this run for abandoned (silent for segments.run_abandoned_after) and dropped its rows; not switching to it")

// stillRunning checks, just before the switch, that the run is still
// recorded running.
func (e *Engine) stillRunning(ctx context.Context, res *RunResult) error {
	var status string
	err := e.db.QueryRow(ctx, `SELECT argMax(status, updated) FROM seg_runs WHERE site = @site AND run_id = @run`,
		clickhouse.Named("site", res.Site), clickhouse.Named("run", res.RunID)).Scan(&status)
	if err != nil {
		return err
	}
	if status != "running" {
		return errAbandoned
	}
	return nil
}

// Two processes may run a site at once (a CLI run beside the schedule:
// docs/operations.md). The one that finishes first switches to its run
// and cleans up, which can drop the run the other one is reading (with
// keep_runs: 1, or after enough runs). Then the other's snapshot would
// lack what it could not read, so it must not switch to it.

// prevProductsSQL counts the products of the run a run reads.
const prevProductsSQL = "SELECT count() FROM seg_products WHERE site = @site AND run_id = @prev"

// notePrev counts the products of prev, the run this one reads, before
// the run reads any of it. (A previous run without products, a shop
// whose events name none, is not checked.)
func (e *Engine) notePrev(ctx context.Context, res *RunResult, prev string) error {
	res.prev = prev
	if prev == "" {
		return nil
	}
	q := prevProductsSQL
	p := []any{clickhouse.Named("site", res.Site), clickhouse.Named("prev", prev)}
	if err := e.settle(ctx, res, q, p); err != nil {
		return err
	}
	if err := e.conn(res).QueryRow(ctx, q, p...).Scan(&res.prevProducts); err != nil {
		return fmt.Errorf("cannot count the previous run's products: %w", err)
	}
	return nil
}

// errPrevDropped means the run's previous run was dropped while it read it.
var errPrevDropped = errors.New("the previous run's rows were dropped while this run read them (another process's run finished first and cleaned up: see segments.keep_runs); not switching to it, the next run builds on the new current run")

// prevIntact checks, once the run has read everything, that its previous
// run's products are still there: dropRun drops them first.
func (e *Engine) prevIntact(ctx context.Context, res *RunResult) error {
	if res.prev == "" || res.prevProducts == 0 {
		return nil
	}
	var n uint64
	err := e.conn(res).QueryRow(ctx, prevProductsSQL,
		clickhouse.Named("site", res.Site), clickhouse.Named("prev", res.prev)).Scan(&n)
	if err != nil {
		return fmt.Errorf("cannot count the previous run's products: %w", err)
	}
	if n == 0 {
		return errPrevDropped
	}
	return nil
}
