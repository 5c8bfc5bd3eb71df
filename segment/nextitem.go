package segment

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/cityhash102"
)

// NextItemOptions choose what a next-item evaluation replays.
type NextItemOptions struct {
	// K is the list length (default 10).
	K int
	// Window: the site's sessions that end within it before now are held
	// out and replayed; the model and the baselines learn from the rest
	// (default 24h).
	Window time.Duration
	// Gap: a pause longer than this starts a new session (default 30m).
	Gap time.Duration
	// Sessions, when set, are replayed instead, against the site's
	// current run; they must not be in the site's events (a later
	// period of the same shop, say). Window is then unused.
	Sessions []Session
}

// Session is one session's viewed products, in the order viewed.
type Session []string

// NextItemScore is HitRate@K (share of next items in the list) and
// MRR@K (mean of 1/rank, 0 when not in the list).
type NextItemScore struct {
	HitRate, MRR float64
}

// NextItemMethod is a method's score over every next item, and over the
// next items the price rules allow (an upsell or cross-sell of the
// viewed product) against its list with only what the rules allow.
type NextItemMethod struct {
	All, Allowed NextItemScore
}

// NextItemResult compares remarket's related products (the first K by
// position) with an item-kNN (cosine of session co-occurrence) and a
// most-popular baseline, computed in the same run from the same events.
type NextItemResult struct {
	Site         string
	K            int
	Sessions     uint64 // sessions replayed
	Pairs        uint64 // next items: a view followed by a view of another product
	AllowedPairs uint64 // of which the price rules allow the second for the first
	Remarket     NextItemMethod
	ItemKNN      NextItemMethod
	MostPopular  NextItemMethod
	// Viewed is the in-stock products with views the model learned from;
	// Covered those of them with related products.
	Viewed, Covered uint64
	// InStock is the in-stock products; Listed the distinct ones among
	// the first K related products of any product.
	InStock, Listed uint64
	Took            time.Duration
}

// Coverage is the share of viewed in-stock products with related products.
func (r NextItemResult) Coverage() float64 { return ratio(r.Covered, r.Viewed) }

// ListCoverage is the share of in-stock products that are among the
// first K related products of some product.
func (r NextItemResult) ListCoverage() float64 { return ratio(r.Listed, r.InStock) }

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// EvaluateNextItem replays sessions view by view: for each product view
// followed by a view of another product, is the second among the first
// K related products of the first? Without opt.Sessions, the site's
// sessions that end within opt.Window are held out, the related
// products are computed from everything else (nothing is published),
// and the baselines learn from the same events; with opt.Sessions,
// those are replayed against the current run. The working rows are
// dropped.
func (e *Engine) EvaluateNextItem(ctx context.Context, site string, opt NextItemOptions) (NextItemResult, error) {
	if opt.K == 0 {
		opt.K = 10
	}
	if opt.Window == 0 {
		opt.Window = 24 * time.Hour
	}
	if opt.Gap == 0 {
		opt.Gap = 30 * time.Minute
	}
	res := NextItemResult{Site: site, K: opt.K}
	if _, ok := e.cfg.Site(site); !ok {
		return res, fmt.Errorf("unknown site %q", site)
	}
	if opt.K < 0 || opt.Window < 0 || opt.Gap < 0 {
		return res, fmt.Errorf("k, window and gap must be positive")
	}
	if !e.lock(site) {
		return res, ErrBusy
	}
	defer e.unlock(site)
	started := time.Now()
	asOf := e.Now().UTC().Truncate(time.Second)
	run, held := evalRunPrefix+newRunID(), evalRunPrefix+newRunID()
	// On a cluster the held-out sessions are found on each shard (one
	// visitor's events live on one), the training run is a run's, and
	// the pairs, lists and scores are counted on the coordinator.
	cluster, err := e.evalCluster(ctx, site)
	if err != nil {
		return res, err
	}
	defer e.dropRun(context.WithoutCancel(ctx), cluster, run, true)
	defer e.dropRun(context.WithoutCancel(ctx), cluster, held, true)

	scratch := RunResult{Site: site, RunID: run, AsOf: asOf, cluster: cluster}
	relRun := run
	sessionLines := lines(true, "", false)
	if len(opt.Sessions) > 0 {
		cur, at, err := e.currentRunAsOf(ctx, site)
		if err != nil {
			return res, err
		}
		if cur == "" {
			return res, fmt.Errorf("site %q has no segment run yet: run `remarket segment run` first", site)
		}
		// The baselines learn from the events the current run saw.
		relRun, asOf, held = cur, at, run
		if err := e.insertSessions(ctx, site, run, opt.Sessions); err != nil {
			return res, err
		}
		if err := e.step(ctx, &scratch, "eval/00_opted_out", optedOut(), e.params(site, run, asOf)); err != nil {
			return res, err
		}
		sessionLines = lines(false, "", false)
	} else {
		hp := append(e.params(site, held, asOf),
			clickhouse.Named("gap", int64(opt.Gap/time.Second)), clickhouse.Named("cut", asOf.Add(-opt.Window).Unix()))
		if err := e.step(ctx, &scratch, "eval/00_opted_out", optedOut(), hp); err != nil {
			return res, err
		}
		if err := e.step(ctx, &scratch, "eval/23_eval_sessions", query("23_eval_sessions", "/*LINES*/", lines(false, "", false)), hp); err != nil {
			return res, err
		}
		if err := e.step(ctx, &scratch, "eval/holdout/sessions", `INSERT INTO seg_eval_holdout (site, run_id, vh, ph, event_time)
			SELECT site, @run, vh, ph, event_time FROM seg_eval_sessions WHERE site = @site AND run_id = @held`,
			[]any{clickhouse.Named("site", site), clickhouse.Named("run", run), clickhouse.Named("held", held)}); err != nil {
			return res, err
		}
		// Train on everything but the held-out sessions.
		train := RunResult{Site: site, RunID: run, AsOf: asOf, Sizes: map[string]uint64{}, cluster: cluster}
		if err := runGraph(2, e.sharedTasks(ctx, &train, e.params(site, run, asOf), &eventPlan{}, true, nil)); err != nil {
			return res, err
		}
	}

	p := append(e.params(site, run, asOf), clickhouse.Named("rel_run", relRun), clickhouse.Named("held", held),
		clickhouse.Named("k", opt.K), clickhouse.Named("gap", int64(opt.Gap/time.Second)))
	sessions := query("eval_sessions", "/*LINES*/", sessionLines)
	for _, s := range []struct{ name, q string }{
		{"24_eval_pairs", query("24_eval_pairs", "/*PRIO*/", priceRule)},
		{"25_eval_model_lists", query("25_eval_model_lists")},
		{"26_eval_knn_lists", query("26_eval_knn_lists", "/*SESSIONS*/", sessions, "/*PRIO*/", priceRule)},
	} {
		if err := e.step(ctx, &scratch, "eval/"+s.name, s.q, p); err != nil {
			return res, err
		}
	}
	if err := e.popularLists(ctx, &scratch, p, sessions, opt.K); err != nil {
		return res, err
	}
	if err := e.scoreNextItem(ctx, &scratch, &res, p); err != nil {
		return res, err
	}
	res.Took = time.Since(started)
	return res, nil
}

// currentRunAsOf is the site's current run and the time it was computed as of.
func (e *Engine) currentRunAsOf(ctx context.Context, site string) (string, time.Time, error) {
	run, err := e.CurrentRun(ctx, site)
	if err != nil || run == "" {
		return run, time.Time{}, err
	}
	var at time.Time
	err = e.db.QueryRow(ctx, "SELECT max(as_of) FROM seg_runs WHERE site = @site AND run_id = @run",
		clickhouse.Named("site", site), clickhouse.Named("run", run)).Scan(&at)
	return run, at.UTC(), err
}

// insertSessions writes replayed sessions as product views one second
// apart, numbering each session as a visitor.
func (e *Engine) insertSessions(ctx context.Context, site, run string, sessions []Session) error {
	b, err := e.db.PrepareBatch(ctx, "INSERT INTO seg_eval_sessions (site, run_id, vh, event_time, ph, view)")
	if err != nil {
		return err
	}
	t := time.Unix(0, 0).UTC()
	for i, s := range sessions {
		for _, id := range s {
			t = t.Add(time.Second)
			if err := b.Append(site, run, uint64(i+1), t, cityhash102.CityHash64([]byte(id), uint32(len(id))), uint8(1)); err != nil {
				b.Abort()
				return err
			}
		}
	}
	return b.Send()
}

// popularLists writes the most-popular baseline's lists: the in-stock
// products of the most training sessions, enough of them that the ones
// the price rules allow still fill a list.
func (e *Engine) popularLists(ctx context.Context, res *RunResult, p []any, sessions string, k int) error {
	q := query("27_eval_popular", "/*SESSIONS*/", sessions)
	if err := e.settle(ctx, res, q, p); err != nil {
		return err
	}
	rows, err := e.conn(res).Query(ctx, q, append(p, clickhouse.Named("n", k+200))...)
	if err != nil {
		return fmt.Errorf("eval popular products: %w", err)
	}
	defer rows.Close()
	var phs, cats, curs []uint64
	var prices []float64
	for rows.Next() {
		var ph, cat, cur uint64
		var price float64
		if err := rows.Scan(&ph, &cat, &price, &cur); err != nil {
			return err
		}
		phs, cats, prices, curs = append(phs, ph), append(cats, cat), append(prices, price), append(curs, cur)
	}
	if err := rows.Err(); err != nil || len(phs) == 0 {
		return err
	}
	pp := append(p[:len(p):len(p)], clickhouse.Named("pop_ph", phs), clickhouse.Named("pop_cat", cats), clickhouse.Named("pop_price", prices), clickhouse.Named("pop_cur", curs))
	return e.step(ctx, res, "eval/27_eval_popular_lists", query("27_eval_popular_lists", "/*PRIO*/", priceRule), pp)
}

// scoreNextItem fills res from the pairs and lists of the evaluation run.
func (e *Engine) scoreNextItem(ctx context.Context, run *RunResult, res *NextItemResult, p []any) error {
	if err := e.settle(ctx, run, "seg_eval_sessions seg_eval_pairs seg_eval_lists seg_products seg_related", p); err != nil {
		return err
	}
	db := e.conn(run)
	if err := db.QueryRow(ctx, `SELECT uniqExact(vh) FROM seg_eval_sessions WHERE site = @site AND run_id = @held AND view = 1`, p...).Scan(&res.Sessions); err != nil {
		return err
	}
	if err := db.QueryRow(ctx, `SELECT count(), countIf(allowed = 1) FROM seg_eval_pairs WHERE site = @site AND run_id = @run`, p...).Scan(&res.Pairs, &res.AllowedPairs); err != nil {
		return err
	}
	rows, err := db.Query(ctx, query("28_eval_score"), p...)
	if err != nil {
		return fmt.Errorf("eval next-item scores: %w", err)
	}
	defer rows.Close()
	methods := map[string]*NextItemMethod{"remarket": &res.Remarket, "item_knn": &res.ItemKNN, "most_popular": &res.MostPopular}
	for rows.Next() {
		var name string
		var hits, allowedHits uint64
		var rr, allowedRR float64
		if err := rows.Scan(&name, &hits, &rr, &allowedHits, &allowedRR); err != nil {
			return err
		}
		if m := methods[name]; m != nil {
			m.All = NextItemScore{HitRate: ratio(hits, res.Pairs), MRR: rr / max(float64(res.Pairs), 1)}
			m.Allowed = NextItemScore{HitRate: ratio(allowedHits, res.AllowedPairs), MRR: allowedRR / max(float64(res.AllowedPairs), 1)}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return db.QueryRow(ctx, query("29_eval_coverage"), p...).Scan(&res.Viewed, &res.Covered, &res.InStock, &res.Listed)
}
