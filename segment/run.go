package segment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/erasures"
)

// RunOptions narrow a run.
type RunOptions struct {
	// Audience, when set, recomputes only this audience; the others are
	// carried over from the current run so the new snapshot is complete.
	Audience string
	// Full rebuilds every visitor's state from all events instead of
	// building on the previous run (see incremental.go).
	Full bool
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
	// Mode is ModeFull or ModeIncremental; Reason says why a run was
	// full, and Cause the same as a fixed code (CauseAsked, ...);
	// Affected is how many visitors it recomputed from their events.
	Mode     string
	Cause    string
	Reason   string
	Affected uint64

	state *runState // what the run publishes for the next one

	// prev is the run this one reads (the current one when it started;
	// "" for the first), which had prevProducts products then.
	prev         string
	prevProducts uint64

	cluster *clusterRun // where the run's queries go on a cluster (nil: one node)
}

// resultMu guards a RunResult's Sizes and Steps while steps run side by side.
var resultMu sync.Mutex

// Step is the timing of one query of a run, for logs and benchmarks.
type Step struct {
	Name string
	Took time.Duration
}

// snapshotTables hold a run's rows (partitioned by run_id); workTables
// only live while a run computes.
var (
	// seg_products first: dropRun drops it first, and it holds no
	// person's rows (no erasure empties it), so a run that still finds its
	// previous run's products once it has read that run knows none of
	// its rows were dropped meanwhile (prevIntact).
	snapshotTables = []string{"seg_products", "seg_profiles", "seg_interests",
		"seg_related", "seg_members", "seg_recommendations", "seg_audience_products", "seg_outcomes"}
	// stateTables are the rest of the per-visitor state the next
	// incremental run copies (incremental.go): kept, erased and dropped
	// with the snapshot.
	stateTables = []string{"seg_baskets", "seg_product_lines"}
	// keptWorkTables are work tables (never merged) the next incremental
	// run reads too, so they are kept and dropped with the snapshot: the
	// co-occurrence sums it updates. They hold no person's data.
	keptWorkTables = []string{"seg_pairs"}
	workTables     = []string{"seg_opted_out", "seg_identities", "seg_numbers", "seg_affected", "seg_pair_items", "seg_related_candidates", "seg_related_best",
		"seg_person_bought", "seg_member_candidates", "seg_eval_holdout", "seg_eval_sessions", "seg_eval_pairs", "seg_eval_lists"}
)

// ErrBusy means a run for the site is already in progress in this process.
var ErrBusy = errors.New("a segment run is already in progress")

// Run computes a complete snapshot for site and switches readers to it.
func (e *Engine) Run(ctx context.Context, site string, opt RunOptions) (RunResult, error) {
	if _, ok := e.cfg.Site(site); !ok {
		return RunResult{}, fmt.Errorf("unknown site %q", site)
	}
	if !e.lockForRun(ctx, site) {
		observeRun(RunResult{Site: site}, ErrBusy)
		return RunResult{Site: site}, ErrBusy
	}
	return e.runLocked(ctx, site, opt)
}

// runLocked is Run once the site's run lock is taken; it gives it back.
func (e *Engine) runLocked(ctx context.Context, site string, opt RunOptions) (RunResult, error) {
	defer e.unlock(site)
	res, err := e.run(ctx, site, opt)
	res.Site = site
	observeRun(res, err)
	return res, err
}

// run is Run for a configured site, its lock taken.
func (e *Engine) run(ctx context.Context, site string, opt RunOptions) (RunResult, error) {
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
			return RunResult{}, fmt.Errorf("%w: site %q has no audience %q", ErrNoAudience, site, opt.Audience)
		}
		audiences = keep
	}
	asOf := e.Now().UTC().Truncate(time.Second)
	res := RunResult{Site: site, RunID: newRunID(), AsOf: asOf, Sizes: map[string]uint64{}}
	started := time.Now()
	// The run's recorded times follow the engine's clock: a run computed
	// as of a past time (tests, the demo's campaign) starts at its as-of
	// time and finishes as long after it as it took, so feeds open its
	// offers then.
	clock := func() time.Time { return asOf.Add(time.Since(started)) }
	names := make([]string, len(audiences))
	for i, a := range audiences {
		names[i] = a.Name
	}
	if err := e.recordRun(ctx, res, asOf, time.Time{}, "running", "", names); err != nil {
		return res, err
	}
	stopHeartbeat := e.heartbeat(ctx, site, res.RunID)
	if e.db.Cluster != nil {
		res.cluster, err = newClusterRun(ctx, e.db)
		if err == nil {
			err = res.cluster.settleCatalog(ctx, site)
		}
	}
	if err == nil {
		e.dropAbandonedRuns(ctx, res.cluster, site)
		err = e.compute(ctx, site, &res, audiences, opt)
	}
	if err == nil && e.beforeSwitch != nil {
		err = e.beforeSwitch(ctx, site, res.RunID)
	}
	if err == nil {
		// Last before the switch: an erasure that began after this point
		// deletes from the run's rows itself, all of them being written.
		err = e.reapplyErasures(ctx, &res, started)
	}
	if err == nil {
		err = e.prevIntact(ctx, &res)
	}
	if err == nil {
		err = e.publish(ctx, &res)
	}
	if err == nil {
		err = e.stillRunning(ctx, &res)
	}
	stopHeartbeat() // no beat may land after the run's final status
	res.Took = time.Since(started)
	if err == nil {
		err = e.switchTo(ctx, &res, asOf, clock(), names)
	}
	if err == nil && e.afterSwitch != nil {
		e.afterSwitch()
	}
	// Work tables go either way; a failed run's snapshot rows go too,
	// unless readers may have been switched to them.
	unknown := errors.Is(err, errSwitchUnknown)
	e.dropRun(context.WithoutCancel(ctx), res.cluster, res.RunID, err != nil && !unknown)
	if err != nil && !unknown {
		e.forgetRun(context.WithoutCancel(ctx), site, res.RunID, started)
	}
	defer erasures.Sweep(context.WithoutCancel(ctx), e.db, e.log) // once this run no longer counts as running
	if err != nil {
		var rerr error
		if !unknown {
			rerr = e.recordRun(context.WithoutCancel(ctx), res, asOf, clock(), "failed", err.Error(), names)
		}
		e.log.Error("segment run failed", "site", site, "run_id", res.RunID, "took", res.Took, "err", err)
		return res, errors.Join(err, rerr)
	}
	e.cleanup(ctx, res.cluster, site)
	e.log.Info("segment run complete", "site", site, "run_id", res.RunID, "mode", res.Mode, "reason", res.Reason,
		"recomputed_visitors", res.Affected, "took", res.Took.Round(time.Millisecond), "sizes", res.Sizes)
	return res, nil
}

// compute writes the run's snapshot rows: the shared steps, then per
// audience its members and their products, as one graph of tasks run two
// at a time (see runGraph), so a core never waits for a stage to end.
func (e *Engine) compute(ctx context.Context, site string, res *RunResult, audiences []config.Audience, opt RunOptions) error {
	prev, err := e.CurrentRun(ctx, site)
	if err != nil {
		return err
	}
	// Before anything reads prev: see prevIntact.
	if err := e.notePrev(ctx, res, prev); err != nil {
		return err
	}
	plan, err := planEvents(audiences)
	if err != nil {
		return err
	}
	// The largest audiences' lists take longest: they go first, by the
	// sizes of the current run (the new one's are not known yet).
	if err := e.largestFirst(ctx, e.conn(res), site, prev, audiences); err != nil {
		return err
	}
	inc, err := e.planIncrement(ctx, res, prev, opt, plan)
	if err != nil {
		return err
	}
	if e.afterPlan != nil {
		if err := e.afterPlan(ctx, site, prev); err != nil {
			return err
		}
	}
	params := append(e.params(site, res.RunID, res.AsOf), clickhouse.Named("prev", prev))
	tasks := e.sharedTasks(ctx, res, params, plan, false, inc)
	// Members need interests and profiles; products also the ranked
	// related products. When both are ready, the largest audience's
	// members and the ranking go first: the largest audience's lists are
	// the run's longest step and need both, while the other audiences'
	// members can run beside those lists.
	var members, products, joins []task
	var joined []string
	for _, a := range audiences {
		members = append(members, task{name: "members/" + a.Name, after: []string{"02_interests", "03_profiles", "04_opted_out_profiles"},
			run: func() error { return inAudience(a.Name, e.computeMembers(ctx, res, params, a, plan)) }})
		products = append(products, task{name: "products/" + a.Name, after: []string{"members/" + a.Name, "11_related_best", "06_person_bought"},
			run: func() error { return inAudience(a.Name, e.computeProducts(ctx, res, params, a)) }})
		ap := append(params[:len(params):len(params)], clickhouse.Named("audience", a.Name))
		joined = append(joined, "joins/"+a.Name)
		joins = append(joins, task{name: "joins/" + a.Name, after: []string{"members/" + a.Name},
			run: func() error {
				return inAudience(a.Name, e.step(ctx, res, "joins/"+a.Name, query("14_member_joins"), ap))
			}})
	}
	rank := slices.IndexFunc(tasks, func(t task) bool { return t.name == "11_related/0" })
	first := min(1, len(members))
	// Outcomes count every audience, also those a single-audience run
	// carries over: their joins are recorded already.
	defs := audiences
	if opt.Audience != "" {
		if defs, err = e.Audiences(ctx, site); err != nil {
			return err
		}
	}
	outcomes := e.outcomeTasks(ctx, res, params, defs, joined)
	tasks = slices.Concat(tasks[:rank], members[:first], tasks[rank:], members[first:], products, joins, outcomes)
	if err := runGraph(2, tasks); err != nil {
		return err
	}
	if opt.Audience != "" {
		return e.carryOver(ctx, site, res, opt.Audience)
	}
	return nil
}

// lines is the event-lines fragment (lines.sql): plain narrows the
// product-less events; with holdout, an evaluation's held-out lines are
// left out.
// With affected, only the visitors an incremental run recomputes.
func lines(holdout bool, plain string, affected bool) string {
	filter := ""
	if holdout {
		filter = "WHERE (vh, ph, event_time) NOT IN (SELECT vh, ph, event_time FROM seg_eval_holdout WHERE site = @site AND run_id = @run)"
	}
	prewhere, and := "", ""
	if affected {
		prewhere, and = "PREWHERE "+affectedVisitors, andAffected
	}
	return query("lines", "/*HOLDOUT*/", filter, "/*PLAIN_LINES*/", plain, "/*VISITORS_PREWHERE*/", prewhere, "/*VISITORS*/", and,
		"/*ITEM_COPIES*/", copies("notEmpty(items.product_id)", and))
}

// copies is the copies fragment: the ids of the events a copy of which
// matches copyIf (a fixed condition on events); visitors is empty or
// narrows them (andAffected).
func copies(copyIf, visitors string) string {
	return query("copies", "/*COPY_IF*/", copyIf, "/*VISITORS*/", visitors)
}

// unknownProducts is 01_unknown_products, which reads the events that
// name a product the catalog lacks by the ids of their copies.
func unknownProducts() string {
	return query("01_unknown_products", "/*UNKNOWN_COPIES*/",
		copies("product_id != '' AND product_id GLOBAL NOT IN (SELECT product_id FROM v_products WHERE site = @site)", ""))
}

// inAudience names the audience in err.
func inAudience(name string, err error) error {
	if err != nil {
		return fmt.Errorf("audience %s: %w", name, err)
	}
	return nil
}

// sharedTasks are the steps every run (and an evaluation) shares:
// opted-out visitors, identities and product numbers → interests beside
// profiles with baskets and product counts (a read of the events each);
// products → related products follow the profiles, beside interests. plan is the audiences' event conditions the profiles pass
// counts. With holdout, the lines held out by an evaluation are left out.
// With inc, the two passes recompute only the affected visitors and copy
// the others from the previous run (incremental.go).
// Tasks are listed longest chain first: that is the order ready ones start.
func (e *Engine) sharedTasks(ctx context.Context, res *RunResult, params []any, plan *eventPlan, holdout bool, inc *increment) []task {
	flags, counts, lasts := plan.fragments()
	pp := append(params[:len(params):len(params)], plan.args...)
	step := func(name string, after []string, q string, params []any) task {
		return task{name: name, after: after, run: func() error { return e.step(ctx, res, name, q, params) }}
	}
	// halves splits a step by @part modulo @parts into name/0 and name/1,
	// one per core; the text is made when the step starts.
	halves := func(name string, after []string, text func() string, params []any) []task {
		var out []task
		for part := range 2 {
			hp := append(params[:len(params):len(params)], clickhouse.Named("parts", 2), clickhouse.Named("part", part))
			name := fmt.Sprintf("%s/%d", name, part)
			out = append(out, task{name: name, after: after, run: func() error { return e.step(ctx, res, name, text(), hp) }})
		}
		return out
	}
	// An incremental run (inc) waits for its affected visitors, reads
	// only their events and identities, and names only their categories.
	before, named := []string{"00_opted_out"}, ""
	if inc != nil {
		before, named = []string{"00_affected"}, andAffected
	}
	interests := query("02_interests", "/*LINES*/", lines(holdout, interestLines, inc != nil), "/*NAMED_BY*/", named)
	profiles := query("03_profiles", "/*LINES*/", lines(holdout, "", inc != nil), "/*COND_FLAGS*/", flags, "/*COND_EVENTS*/", counts, "/*COND_LAST*/", lasts,
		"/*BANDS*/", query("price_bands"), "/*PRICE_BAND*/", priceBand)
	interestsPass := step("02_interests", slices.Concat(before, []string{"01_unknown_products"}), interests, params)
	// The pairs need only the profiles pass's baskets: they are counted
	// (in two halves) without waiting for interests.
	profilesPass := step("03_profiles", slices.Concat(before, []string{"00_identities", "01_numbers"}), profiles, pp)
	identities := step("00_identities", nil, query("00_identities"), params)
	numbers := step("01_numbers", nil, query("01_numbers"), params)
	var affected []task
	if inc != nil {
		ip := append(params[:len(params):len(params)], inc.params()...)
		ipp := append(pp[:len(pp):len(pp)], inc.params()...)
		affected = append(affected, step("00_affected", []string{"00_opted_out", "01_unknown_products"}, inc.affected(), ip))
		interestsPass.run = carryInterests(func(name, q string) error { return e.step(ctx, res, name, q, ip) }, interests)
		profilesPass.run = carryProfiles(func(name, q string) error { return e.step(ctx, res, name, q, ipp) }, profiles, inc)
		identities = step("00_identities", []string{"00_affected"}, query("00_identities", "/*VISITORS*/", andAffected), params)
		numbers.run = e.numberProducts(ctx, res, inc, params)
	}
	tasks := []task{
		step("01_unknown_products", nil, unknownProducts(), params),
		step("00_opted_out", nil, optedOut(), params),
		identities,
		numbers,
		interestsPass,
		profilesPass,
		// Products need the counts of the profiles pass, not interests:
		// the product snapshot and every related-products step run while
		// interests are still computing.
		step("05_products", []string{"03_profiles", "01_numbers", "01_unknown_products"}, query("05_products"), params),
		step("04_opted_out_profiles", []string{"00_opted_out"}, query("04_opted_out_profiles"), params),
		// What each person bought on their other devices, which their
		// recommendations leave out.
		step("06_person_bought", []string{"02_interests", "03_profiles"}, query("06_person_bought"), params),
	}
	tasks = append(tasks, affected...)
	// Co-occurrence, per kind: pairs in two halves, then each product's
	// counts. Scoring waits for every kind's counts: an anchor's weak
	// pairs count only while it lacks strong partners of any kind.
	var items, candidates []string
	for _, bk := range basketKinds {
		kp := append(params[:len(params):len(params)], clickhouse.Named("kind", bk.kind))
		pairs, count := "07_pairs/"+bk.kind, query("07_pairs", "/*BASKET_PAIRS*/", basketPairs(allBaskets), "/*BASKET*/", bk.column)
		text := func() string { return count }
		if inc.updatesPairs(bk.kind) {
			// Its text depends on the numbers step (inc.renumbered).
			pairs, text = "07_pairs_update/"+bk.kind, func() string { return inc.pairsUpdate(bk.column) }
		}
		tasks = append(tasks, halves(pairs, []string{"03_profiles"}, text, kp)...)
		tasks = append(tasks, step("07_items/"+bk.kind, []string{pairs + "/0", pairs + "/1"}, query("07_items"), kp))
		items = append(items, "07_items/"+bk.kind)
	}
	cooccurrence := query("07_cooccurrence", "/*BUSY*/", query("busy_anchors"), "/*PRIO*/", priceRule)
	for _, bk := range basketKinds {
		kp := append(params[:len(params):len(params)], clickhouse.Named("kind", bk.kind))
		tasks = append(tasks, step("07_cooccurrence/"+bk.kind, slices.Concat(items, []string{"05_products"}), cooccurrence, kp))
		candidates = append(candidates, "07_cooccurrence/"+bk.kind)
	}
	products := []string{"05_products"}
	tasks = append(tasks,
		step("10_fallback_cross_sell", []string{"05_products", "03_profiles"}, query("10_fallback_cross_sell"), params),
		step("09_fallback_upsell", products, query("09_fallback_upsell"), params),
		step("08_declared", products, query("08_declared"), params),
		step("10_fallback_bestsellers", append(candidates[:len(candidates):len(candidates)], "08_declared", "09_fallback_upsell", "10_fallback_cross_sell"), query("10_fallback_bestsellers", "/*PRIO*/", priceRule), params),
	)
	// Ranking is split by anchor into two halves, one per core.
	related := slices.Concat(candidates, []string{"08_declared", "09_fallback_upsell", "10_fallback_cross_sell", "10_fallback_bestsellers"})
	tasks = append(tasks, halves("11_related", related, func() string { return query("11_related") }, params)...)
	tasks = append(tasks, step("11_related_best", []string{"11_related/0", "11_related/1"}, query("11_related_best"), params))
	return tasks
}

// largestFirst orders audiences by their member count in run, largest
// first (run "" leaves the order as it is).
func (e *Engine) largestFirst(ctx context.Context, db *chdb.DB, site, run string, audiences []config.Audience) error {
	rows, err := db.Query(ctx, "SELECT audience, count() FROM seg_members WHERE site = @site AND run_id = @run GROUP BY audience",
		clickhouse.Named("site", site), clickhouse.Named("run", run))
	if err != nil {
		return err
	}
	defer rows.Close()
	n := map[string]uint64{}
	for rows.Next() {
		var a string
		var c uint64
		if err := rows.Scan(&a, &c); err != nil {
			return err
		}
		n[a] = c
	}
	sort.SliceStable(audiences, func(i, j int) bool { return n[audiences[i].Name] > n[audiences[j].Name] })
	return rows.Err()
}

// computeMembers writes one audience's members.
func (e *Engine) computeMembers(ctx context.Context, res *RunResult, params []any, a config.Audience, plan *eventPlan) error {
	qs, args, err := membersQuery(a, plan)
	if err != nil {
		return err
	}
	ap := append(params[:len(params):len(params)], clickhouse.Named("audience", a.Name))
	ap = append(ap, e.holdoutParams(a)...)
	for i, q := range qs {
		if err := e.step(ctx, res, fmt.Sprintf("members%d/%s", i+1, a.Name), q, append(ap, args...)); err != nil {
			return err
		}
	}
	return nil
}

// computeProducts records one audience's size and writes its members'
// products and the audience's product list; an empty audience has none,
// and its queries (each a read of the run's interests) are skipped.
func (e *Engine) computeProducts(ctx context.Context, res *RunResult, params []any, a config.Audience) error {
	ap := append(params[:len(params):len(params)], clickhouse.Named("audience", a.Name))
	var n uint64
	const size = "SELECT count() FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience"
	if err := e.settle(ctx, res, size, ap); err != nil {
		return err
	}
	if err := e.conn(res).QueryRow(ctx, size, ap...).Scan(&n); err != nil {
		return err
	}
	resultMu.Lock()
	res.Sizes[a.Name] = n
	resultMu.Unlock()
	if n == 0 {
		return nil
	}
	sp := strategyPlans[a.Strategy]
	self := 0
	if sp.self {
		self = 1
	}
	rp := append(ap[:len(ap):len(ap)], clickhouse.Named("prios", sp.prios()), clickhouse.Named("self", self))
	recs := recommendations(sp.anchorWhere, sp.anchorKey)
	if err := e.step(ctx, res, "recommendations/"+a.Name, recs, rp); err != nil {
		return err
	}
	return e.step(ctx, res, "audience_products/"+a.Name, queryFor(e.db.Version, "13_audience_products"), ap)
}

// carryOver copies every other audience of the current run that is still
// defined into this one, so a single-audience run still publishes a
// complete snapshot.
func (e *Engine) carryOver(ctx context.Context, site string, res *RunResult, audience string) error {
	cur, err := e.CurrentRun(ctx, site)
	if err != nil || cur == "" {
		return err
	}
	// Only audiences still defined: one deleted since the current run
	// must not live on in every snapshot of single-audience runs.
	defs, err := e.Audiences(ctx, site)
	if err != nil {
		return err
	}
	var others []string
	for _, a := range defs {
		if a.Name != audience {
			others = append(others, a.Name)
		}
	}
	if len(others) == 0 {
		return nil
	}
	p := []any{clickhouse.Named("site", site), clickhouse.Named("run", res.RunID), clickhouse.Named("cur", cur),
		clickhouse.Named("audience", audience), clickhouse.Named("others", others)}
	copies := []string{
		`INSERT INTO seg_members (site, run_id, audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time, grp)
		 SELECT site, @run, audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time, grp
		 FROM seg_members WHERE site = @site AND run_id = @cur AND has(@others, audience)`,
		`INSERT INTO seg_recommendations (site, run_id, audience, vh, visitor_id, product_id, anchor_id, strategy, reason, motivation, score, rank)
		 SELECT site, @run, audience, vh, visitor_id, product_id, anchor_id, strategy, reason, motivation, score, rank
		 FROM seg_recommendations WHERE site = @site AND run_id = @cur AND has(@others, audience)`,
		`INSERT INTO seg_audience_products (site, run_id, audience, product_id, anchor_id, strategy, reason, motivation, score, rank, members)
		 SELECT site, @run, audience, product_id, anchor_id, strategy, reason, motivation, score, rank, members
		 FROM seg_audience_products WHERE site = @site AND run_id = @cur AND has(@others, audience)`,
	}
	for _, q := range copies {
		if err := e.conn(res).Exec(ctx, q, p...); err != nil {
			return fmt.Errorf("cannot carry over audiences of run %s: %w", cur, err)
		}
	}
	const sizes = "SELECT audience, count() FROM seg_members WHERE site = @site AND run_id = @run AND audience != @audience GROUP BY audience"
	if err := e.settle(ctx, res, sizes, p); err != nil {
		return err
	}
	rows, err := e.conn(res).Query(ctx, sizes, p...)
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

// step runs one query of a run and times it. Its query id is the run's
// id and the step's name (on a cluster's shards with "/shard N" after
// them), so system.processes and system.query_log show which step of
// which run a query is, and a stuck one can be killed by it.
func (e *Engine) step(ctx context.Context, res *RunResult, name, q string, params []any) error {
	t := time.Now()
	id := res.RunID + "/" + name
	exec := func(ctx context.Context, q string, params ...any) error {
		return e.db.Exec(chdb.WithQueryID(ctx, id), q, params...)
	}
	if res.cluster != nil {
		exec = func(ctx context.Context, q string, params ...any) error {
			return res.cluster.exec(ctx, id, name, q, params)
		}
	}
	if err := exec(ctx, q, params...); err != nil {
		return fmt.Errorf("step %s: %w", name, err)
	}
	resultMu.Lock()
	res.Steps = append(res.Steps, Step{Name: name, Took: time.Since(t)})
	resultMu.Unlock()
	e.log.Debug("segment step", "site", res.Site, "run_id", res.RunID, "step", name, "took", time.Since(t))
	return nil
}

// publish records the run's sizes, state and outcome totals. On a cluster
// every node that answers holds the whole run first, so a reader on any
// node finds the rows the pointer will point to.
func (e *Engine) publish(ctx context.Context, res *RunResult) error {
	db := e.conn(res)
	if c := res.cluster; c != nil {
		if err := c.settleAll(ctx, res.RunID, snapshotTables); err != nil {
			return err
		}
	}
	if len(res.Sizes) > 0 {
		b, err := db.PrepareBatch(ctx, "INSERT INTO seg_audience_sizes (site, audience, run_id, run_time, size)")
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
		if c := res.cluster; c != nil {
			if err := c.settleAll(ctx, res.RunID, []string{"seg_audience_sizes"}); err != nil {
				return err
			}
		}
	}
	if err := e.recordState(ctx, res); err != nil {
		return fmt.Errorf("cannot record the run's state: %w", err)
	}
	if err := db.Exec(ctx, recordOutcomeTotals, clickhouse.Named("site", res.Site), clickhouse.Named("run", res.RunID),
		clickhouse.Named("now", res.AsOf.Unix())); err != nil {
		return fmt.Errorf("cannot record outcome totals: %w", err)
	}
	return nil
}

// switchTo records the run finished, then moves the pointer: the single
// insert into seg_current is the switch. In that order the current run is
// always recorded ok, which feeds and member exports ask of it, and a
// process that stops between the two leaves a finished run that was never
// current, for cleanup to drop.
func (e *Engine) switchTo(ctx context.Context, res *RunResult, started, finished time.Time, audiences []string) error {
	if err := e.recordRun(ctx, *res, started, finished, "ok", "", audiences); err != nil {
		return fmt.Errorf("cannot record the run finished: %w", err)
	}
	if c := res.cluster; c != nil {
		if err := c.settleStatus(ctx, res.Site, res.RunID, "ok"); err != nil {
			return err
		}
	}
	switched := uint64(time.Now().UnixNano())
	// Not named <run_id>/…: that names the run's steps (query log).
	err := e.conn(res).InsertSwitch(ctx, "switch/"+res.RunID, "INSERT INTO seg_current (site, run_id, switched)",
		"SELECT count() FROM seg_current WHERE site = @site AND run_id = @run AND switched = @switched",
		[]any{clickhouse.Named("site", res.Site), clickhouse.Named("run", res.RunID), clickhouse.Named("switched", switched)},
		res.Site, res.RunID, switched)
	if errors.Is(err, chdb.ErrOutcomeUnknown) {
		return fmt.Errorf("%w: %w", errSwitchUnknown, err)
	}
	if err != nil {
		return fmt.Errorf("cannot switch to the run: %w", err)
	}
	return nil
}

// errSwitchUnknown means the switch's insert failed and whether it landed
// is unknown (the server stopped answering). The run stays recorded
// finished, with its rows: if readers were switched to it, they read it;
// if not, cleanup drops it as it drops any run past keep_runs.
var errSwitchUnknown = errors.New("cannot tell whether readers were switched to the run; it stays recorded finished, with its rows, which cleanup drops in time if it is not current")

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

// dropRun removes a run's work rows, and with all its snapshot rows too
// (on a cluster through c). It logs each table it could not drop from,
// and says whether there was one.
func (e *Engine) dropRun(ctx context.Context, c *clusterRun, runID string, all bool) error {
	tables := workTables
	if all {
		tables = slices.Concat(workTables, snapshotTables, stateTables, keptWorkTables)
	}
	var errs []error
	for _, t := range tables {
		// t comes from the fixed lists above; the partition value is bound.
		drop := func() error {
			return e.db.Exec(ctx, "ALTER TABLE "+t+" DROP PARTITION @run", clickhouse.Named("run", runID))
		}
		if c != nil {
			drop = func() error { return c.dropPartition(ctx, t, runID) }
		}
		if err := drop(); err != nil {
			e.log.Warn("cannot drop run partition", "table", t, "run_id", runID, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// cleanup keeps the rows of the site's current run and of the newest
// runs up to KeepRuns in all (at least 2: a feed that read the current run
// just before the switch still reads the one it replaced, by run id, as
// may a run of another process that builds on it), and drops the rest;
// run history and audience
// sizes stay. Runs still marked running are left alone (another process
// may be writing them; abandoned.go drops those that died), and so are
// the scratch rows of dry runs and evaluations, which no run records:
// dropStaleScratchRuns drops those of a crash.
func (e *Engine) cleanup(ctx context.Context, c *clusterRun, site string) {
	defer e.dropStaleScratchRuns(ctx, c, site)
	old, err := e.oldRuns(ctx, site)
	if err != nil {
		e.log.Warn("cannot list old runs", "site", site, "err", err)
		return
	}
	for _, id := range old {
		e.dropRun(ctx, c, id, true)
	}
}

// oldRuns lists the site's runs with rows that cleanup drops: every
// recorded run but the current one, those still running and the newest
// others up to keep_runs. It reads seg_runs by its key rather than
// v_segment_runs, which ClickHouse 18.16 groups over every site's
// history before filtering.
func (e *Engine) oldRuns(ctx context.Context, site string) ([]string, error) {
	rows, err := e.db.Query(ctx, `SELECT run_id FROM (
			SELECT DISTINCT run_id FROM seg_profiles WHERE site = @site
			UNION ALL SELECT DISTINCT run_id FROM seg_products WHERE site = @site
			UNION ALL SELECT DISTINCT run_id FROM seg_members WHERE site = @site
		)
		WHERE run_id IN (SELECT run_id FROM seg_runs WHERE site = @site)
			AND run_id NOT IN (SELECT run_id FROM v_current_runs WHERE site = @site)
			AND run_id NOT IN (SELECT run_id FROM seg_runs WHERE site = @site GROUP BY run_id HAVING argMax(status, updated) = 'running')
		GROUP BY run_id
		ORDER BY run_id DESC
		LIMIT 1000 OFFSET @keep`,
		clickhouse.Named("site", site), clickhouse.Named("keep", max(e.cfg.Segments.KeepRuns, 2)-1))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var old []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		old = append(old, id)
	}
	return old, rows.Err()
}

// newRunID sorts by the wall-clock time the run started (not its as-of
// time): r20240131T120000.123456-1a2b3c.
func newRunID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return "r" + time.Now().UTC().Format("20060102T150405.000000") + "-" + hex.EncodeToString(b)
}

// conn is where a run's own queries go: on a cluster its coordinator,
// which reads what it wrote itself.
func (e *Engine) conn(res *RunResult) *chdb.DB {
	if res.cluster != nil {
		return res.cluster.coord
	}
	return e.db
}

// settle, on a cluster, waits until the run's rows q reads are on every
// replica the coordinator may read them from (see clusterRun).
func (e *Engine) settle(ctx context.Context, res *RunResult, q string, params []any) error {
	if res.cluster == nil {
		return nil
	}
	return res.cluster.settle(ctx, res.cluster.reads(q), runIDs(q, params), false)
}
