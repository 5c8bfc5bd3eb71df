package segment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/config"
)

// RunOptions narrow a run.
type RunOptions struct {
	// Audience, when set, recomputes only this audience; the others are
	// carried over from the current run so the new snapshot is complete.
	Audience string
}

// RunResult describes a finished run.
type RunResult struct {
	Site     string
	RunID    string
	AsOf     time.Time
	Took     time.Duration
	Sizes    map[string]uint64 // audience → members
	Steps    []Step
	Warnings []string
}

// Step is the timing of one query of a run, for logs and benchmarks.
type Step struct {
	Name string
	Took time.Duration
}

// pipeline is the order of a run's computation; each is a file in queries/.
var pipeline = []string{
	"01_lines", "02_products", "03_profiles", "04_product_interests", "05_category_interests",
	"06_baskets", "07_cooccurrence", "08_declared", "09_fallback_upsell", "10_fallback_cross_sell", "11_related",
}

// snapshotTables hold a run's rows (partitioned by run_id); workTables
// only live while a run computes.
var (
	snapshotTables = []string{"seg_products", "seg_profiles", "seg_product_interests", "seg_category_interests",
		"seg_related", "seg_members", "seg_recommendations", "seg_audience_products"}
	workTables = []string{"seg_lines", "seg_baskets", "seg_related_candidates", "seg_eval_holdout"}
)

// ErrBusy means a run for the site is already in progress in this process.
var ErrBusy = errors.New("a segment run is already in progress")

// Run computes a complete snapshot for site and switches readers to it.
func (e *Engine) Run(ctx context.Context, site string, opt RunOptions) (RunResult, error) {
	if _, ok := e.cfg.Site(site); !ok {
		return RunResult{}, fmt.Errorf("unknown site %q", site)
	}
	if !e.lock(site) {
		return RunResult{}, ErrBusy
	}
	defer e.unlock(site)

	audiences, err := e.Audiences(ctx, site)
	if err != nil {
		return RunResult{}, err
	}
	if opt.Audience != "" {
		var keep []config.Audience
		for _, a := range audiences {
			if a.Name == opt.Audience {
				keep = append(keep, a)
			}
		}
		if len(keep) == 0 {
			return RunResult{}, fmt.Errorf("site %q has no audience %q", site, opt.Audience)
		}
		audiences = keep
	}
	asOf := e.Now().UTC().Truncate(time.Second)
	res := RunResult{Site: site, RunID: newRunID(), AsOf: asOf, Sizes: map[string]uint64{}}
	started := time.Now()
	names := make([]string, len(audiences))
	for i, a := range audiences {
		names[i] = a.Name
	}
	if err := e.recordRun(ctx, res, started, time.Time{}, "running", "", names); err != nil {
		return res, err
	}
	err = e.compute(ctx, site, &res, audiences, opt)
	if err == nil && e.beforeSwitch != nil {
		err = e.beforeSwitch(ctx, site, res.RunID)
	}
	if err == nil {
		err = e.publish(ctx, &res)
	}
	res.Took = time.Since(started)
	// Work tables go either way; a failed run's snapshot rows go too.
	e.dropRun(context.WithoutCancel(ctx), res.RunID, err != nil)
	if err != nil {
		rerr := e.recordRun(context.WithoutCancel(ctx), res, started, time.Now(), "failed", err.Error(), names)
		e.log.Error("segment run failed", "site", site, "run_id", res.RunID, "took", res.Took, "err", err)
		return res, errors.Join(err, rerr)
	}
	if err := e.recordRun(ctx, res, started, time.Now(), "ok", "", names); err != nil {
		return res, err
	}
	e.cleanup(ctx, site)
	e.log.Info("segment run complete", "site", site, "run_id", res.RunID, "took", res.Took.Round(time.Millisecond), "sizes", res.Sizes)
	return res, nil
}

// compute writes the run's snapshot rows.
func (e *Engine) compute(ctx context.Context, site string, res *RunResult, audiences []config.Audience, opt RunOptions) error {
	prev, err := e.CurrentRun(ctx, site)
	if err != nil {
		return err
	}
	params := append(e.params(site, res.RunID, res.AsOf), clickhouse.Named("prev", prev))
	if err := e.computeShared(ctx, res, params, false); err != nil {
		return err
	}
	for _, a := range audiences {
		if err := e.computeAudience(ctx, res, params, a); err != nil {
			return fmt.Errorf("audience %s: %w", a.Name, err)
		}
	}
	if opt.Audience != "" {
		return e.carryOver(ctx, site, res, opt.Audience)
	}
	return nil
}

// computeShared runs the pipeline: lines → products → profiles →
// interests → baskets → related products.
// With holdout, the lines held out by an evaluation are left out.
func (e *Engine) computeShared(ctx context.Context, res *RunResult, params []any, holdout bool) error {
	for _, name := range pipeline {
		if name == "06_baskets" || name == "07_cooccurrence" {
			continue
		}
		if name == "08_declared" {
			for _, bk := range basketKinds {
				kp := append(params[:len(params):len(params)], clickhouse.Named("kind", bk.kind))
				if err := e.step(ctx, res, "06_baskets/"+bk.kind, query("06_baskets", "/*BASKET*/", bk.where, "/*BASKET_TIME*/", bk.time), kp); err != nil {
					return err
				}
				if err := e.step(ctx, res, "07_cooccurrence/"+bk.kind, query("07_cooccurrence"), kp); err != nil {
					return err
				}
			}
		}
		if name == "01_lines" {
			if err := e.insertLines(ctx, res, params, holdout); err != nil {
				return err
			}
			continue
		}
		if err := e.step(ctx, res, name, query(name), params); err != nil {
			return err
		}
	}
	return nil
}

// insertLines snapshots the events month by month, two months at a time.
// ClickHouse 18.16 runs FINAL as one single-threaded merge over every part
// of the table; a partition's rows can only collapse with rows of the same
// partition, so reading one partition per query gives the same rows and
// lets the months run in parallel.
func (e *Engine) insertLines(ctx context.Context, res *RunResult, params []any, holdout bool) error {
	t := time.Now()
	rows, err := e.db.Query(ctx, `SELECT DISTINCT toUInt32(partition) FROM system.parts
		WHERE database = currentDatabase() AND table = 'events' AND active`)
	if err != nil {
		return fmt.Errorf("cannot list event partitions: %w", err)
	}
	var months []uint32
	for rows.Next() {
		var m uint32
		if err := rows.Scan(&m); err != nil {
			rows.Close()
			return err
		}
		months = append(months, m)
	}
	rows.Close()
	q := linesQuery(holdout)
	sem := make(chan struct{}, 2)
	errs := make(chan error, len(months))
	var wg sync.WaitGroup
	for _, m := range months {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			mp := append(params[:len(params):len(params)], clickhouse.Named("month", m))
			if err := e.db.Exec(ctx, q, mp...); err != nil {
				errs <- fmt.Errorf("step 01_lines (month %d): %w", m, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	res.Steps = append(res.Steps, Step{Name: "01_lines", Took: time.Since(t)})
	return nil
}

// linesQuery is 01_lines, for an evaluation without its held-out lines.
func linesQuery(holdout bool) string {
	filter := ""
	if holdout {
		filter = "WHERE (visitor_id, event_time, product_id) NOT IN (SELECT visitor_id, event_time, product_id FROM seg_eval_holdout WHERE site = @site AND run_id = @run)"
	}
	return query("01_lines", "/*HOLDOUT*/", filter)
}

// computeAudience writes one audience's members, their products and the
// audience's product list.
func (e *Engine) computeAudience(ctx context.Context, res *RunResult, params []any, a config.Audience) error {
	q, args, err := membersQuery(a)
	if err != nil {
		return err
	}
	ap := append(params[:len(params):len(params)], clickhouse.Named("audience", a.Name))
	if err := e.step(ctx, res, "members/"+a.Name, q, append(ap, args...)); err != nil {
		return err
	}
	plan := strategyPlans[a.Strategy]
	self := 0
	if plan.self {
		self = 1
	}
	rp := append(ap[:len(ap):len(ap)], clickhouse.Named("strategies", plan.related), clickhouse.Named("self", self))
	recs := query("12_recommendations", "/*ANCHOR_WHERE*/", plan.anchorWhere, "/*ANCHOR_ORDER*/", plan.anchorOrder)
	if err := e.step(ctx, res, "recommendations/"+a.Name, recs, rp); err != nil {
		return err
	}
	if err := e.step(ctx, res, "audience_products/"+a.Name, query("13_audience_products"), ap); err != nil {
		return err
	}
	var n uint64
	if err := e.db.QueryRow(ctx, "SELECT count() FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience", ap...).Scan(&n); err != nil {
		return err
	}
	res.Sizes[a.Name] = n
	return nil
}

// carryOver copies every other audience of the current run into this one,
// so a single-audience run still publishes a complete snapshot.
func (e *Engine) carryOver(ctx context.Context, site string, res *RunResult, audience string) error {
	cur, err := e.CurrentRun(ctx, site)
	if err != nil || cur == "" {
		return err
	}
	p := []any{clickhouse.Named("site", site), clickhouse.Named("run", res.RunID), clickhouse.Named("cur", cur), clickhouse.Named("audience", audience)}
	copies := []string{
		`INSERT INTO seg_members (site, run_id, audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time)
		 SELECT site, @run, audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time
		 FROM seg_members WHERE site = @site AND run_id = @cur AND audience != @audience`,
		`INSERT INTO seg_recommendations (site, run_id, audience, visitor_id, product_id, anchor_id, strategy, reason, motivation, score, rank)
		 SELECT site, @run, audience, visitor_id, product_id, anchor_id, strategy, reason, motivation, score, rank
		 FROM seg_recommendations WHERE site = @site AND run_id = @cur AND audience != @audience`,
		`INSERT INTO seg_audience_products (site, run_id, audience, product_id, anchor_id, strategy, reason, motivation, score, rank, members)
		 SELECT site, @run, audience, product_id, anchor_id, strategy, reason, motivation, score, rank, members
		 FROM seg_audience_products WHERE site = @site AND run_id = @cur AND audience != @audience`,
	}
	for _, q := range copies {
		if err := e.db.Exec(ctx, q, p...); err != nil {
			return fmt.Errorf("cannot carry over audiences of run %s: %w", cur, err)
		}
	}
	rows, err := e.db.Query(ctx, "SELECT audience, count() FROM seg_members WHERE site = @site AND run_id = @run AND audience != @audience GROUP BY audience", p...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n uint64
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		res.Sizes[name] = n
	}
	return rows.Err()
}

func (e *Engine) step(ctx context.Context, res *RunResult, name, q string, params []any) error {
	t := time.Now()
	if err := e.db.Exec(ctx, q, params...); err != nil {
		return fmt.Errorf("step %s: %w", name, err)
	}
	res.Steps = append(res.Steps, Step{Name: name, Took: time.Since(t)})
	e.log.Debug("segment step", "site", res.Site, "run_id", res.RunID, "step", name, "took", time.Since(t))
	return nil
}

// publish records the sizes and moves the pointer: the single insert into
// seg_current is the switch.
func (e *Engine) publish(ctx context.Context, res *RunResult) error {
	if len(res.Sizes) > 0 {
		b, err := e.db.PrepareBatch(ctx, "INSERT INTO seg_audience_sizes (site, audience, run_id, run_time, size)")
		if err != nil {
			return err
		}
		names := make([]string, 0, len(res.Sizes))
		for n := range res.Sizes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if err := b.Append(res.Site, n, res.RunID, res.AsOf, res.Sizes[n]); err != nil {
				b.Abort()
				return err
			}
		}
		if err := b.Send(); err != nil {
			return err
		}
	}
	return e.db.InsertRow(ctx, "INSERT INTO seg_current (site, run_id, switched)", res.Site, res.RunID, uint64(time.Now().UnixNano()))
}

func (e *Engine) recordRun(ctx context.Context, res RunResult, started, finished time.Time, status, msg string, audiences []string) error {
	if audiences == nil {
		audiences = []string{}
	}
	if finished.IsZero() {
		finished = time.Unix(0, 0)
	}
	return e.db.InsertRow(ctx, "INSERT INTO seg_runs (site, run_id, started_at, finished_at, status, error, as_of, audiences, updated)",
		res.Site, res.RunID, started.UTC(), finished.UTC(), status, msg, res.AsOf, audiences, uint64(time.Now().UnixNano()))
}

// CurrentRun is the site's current complete run ("" before the first).
func (e *Engine) CurrentRun(ctx context.Context, site string) (string, error) {
	var id string
	err := e.db.QueryRow(ctx, "SELECT argMax(run_id, switched) FROM seg_current WHERE site = @site",
		clickhouse.Named("site", site)).Scan(&id)
	return id, err
}

// dropRun removes a run's work rows, and with all its snapshot rows too.
func (e *Engine) dropRun(ctx context.Context, runID string, all bool) {
	tables := workTables
	if all {
		tables = append(append([]string{}, workTables...), snapshotTables...)
	}
	for _, t := range tables {
		// t comes from the fixed lists above; the partition value is bound.
		if err := e.db.Exec(ctx, "ALTER TABLE "+t+" DROP PARTITION @run", clickhouse.Named("run", runID)); err != nil {
			e.log.Warn("cannot drop run partition", "table", t, "run_id", runID, "err", err)
		}
	}
}

// cleanup keeps the rows of the site's current run and of the newest
// runs up to KeepRuns in all, and drops the rest; run history and audience
// sizes stay. Runs still marked running are left alone (another process
// may be writing them).
func (e *Engine) cleanup(ctx context.Context, site string) {
	rows, err := e.db.Query(ctx, `SELECT run_id FROM (
			SELECT DISTINCT run_id FROM seg_profiles WHERE site = @site
			UNION ALL SELECT DISTINCT run_id FROM seg_products WHERE site = @site
			UNION ALL SELECT DISTINCT run_id FROM seg_members WHERE site = @site
		)
		WHERE run_id NOT IN (SELECT run_id FROM v_segment_runs WHERE site = @site AND (is_current = 1 OR status = 'running'))
		GROUP BY run_id
		ORDER BY run_id DESC
		LIMIT 1000 OFFSET @keep`,
		clickhouse.Named("site", site), clickhouse.Named("keep", e.cfg.Segments.KeepRuns-1))
	if err != nil {
		e.log.Warn("cannot list old runs", "site", site, "err", err)
		return
	}
	var old []string
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil {
			old = append(old, id)
		}
	}
	rows.Close()
	for _, id := range old {
		e.dropRun(ctx, id, true)
	}
}

// newRunID sorts by the wall-clock time the run started (not its as-of
// time): r20240131T120000.123456-1a2b3c.
func newRunID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return "r" + time.Now().UTC().Format("20060102T150405.000000") + "-" + hex.EncodeToString(b)
}
