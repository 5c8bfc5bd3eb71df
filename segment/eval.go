package segment

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
)

// Metrics are offline quality figures at K.
type Metrics struct {
	HitRate  float64 // share of visitors whose held-out product is in their top K
	NDCG     float64 // mean NDCG@K (one relevant item: 1/log2(rank+1))
	Coverage float64 // distinct products recommended / in-stock products
}

// EvalResult compares the recommender with a most-popular baseline.
type EvalResult struct {
	Site     string
	K        int
	Visitors uint64 // visitors evaluated
	Products uint64 // in-stock catalog products
	Model    Metrics
	Baseline Metrics
	Took     time.Duration
}

// evalCluster is the cluster run an evaluation of site works in (nil on
// a single node), with the site's catalog settled on its nodes.
func (e *Engine) evalCluster(ctx context.Context, site string) (*clusterRun, error) {
	if e.db.Cluster == nil {
		return nil, nil
	}
	c, err := newClusterRun(ctx, e.db)
	if err != nil {
		return nil, err
	}
	return c, c.settleCatalog(ctx, site)
}

// Evaluate runs leave-last-out on the site's own events: for each visitor
// with two or more distinct products, the last product interaction is
// hidden, the whole pipeline (interests, related products) is computed
// from the rest, and each visitor gets a list of K the way an upsell
// audience member would (top interests → upsells, then cross-sells, never
// a bought item). Nothing is published; the working rows are dropped.
func (e *Engine) Evaluate(ctx context.Context, site string, k int) (EvalResult, error) {
	res := EvalResult{Site: site, K: k}
	if _, ok := e.cfg.Site(site); !ok {
		return res, fmt.Errorf("unknown site %q", site)
	}
	if k <= 0 {
		return res, fmt.Errorf("k must be positive")
	}
	if !e.lock(site) {
		return res, ErrBusy
	}
	defer e.unlock(site)
	started := time.Now()
	asOf := e.Now().UTC().Truncate(time.Second)
	all, run := evalRunPrefix+newRunID(), evalRunPrefix+newRunID()
	cluster, err := e.evalCluster(ctx, site)
	if err != nil {
		return res, err
	}
	defer e.dropRun(context.WithoutCancel(ctx), cluster, all, true)
	defer e.dropRun(context.WithoutCancel(ctx), cluster, run, true)

	scratch := RunResult{Site: site, RunID: all, AsOf: asOf, cluster: cluster}
	ap := e.params(site, all, asOf)
	for _, s := range [][2]string{{"00_opted_out", optedOut()}, {"01_unknown_products", unknownProducts()}} {
		if err := e.step(ctx, &scratch, "eval/"+s[0], s[1], ap); err != nil {
			return res, err
		}
	}
	if err := e.step(ctx, &scratch, "eval/02_interests", query("02_interests", "/*LINES*/", lines(false, interestLines, false)), ap); err != nil {
		return res, err
	}
	hp := append(e.params(site, run, asOf), clickhouse.Named("all_run", all))
	if err := e.step(ctx, &scratch, "eval/holdout", query("20_eval_holdout"), hp); err != nil {
		return res, err
	}

	// Train on everything but the held-out lines, then recommend.
	cfg := e.cfg
	cfg.Segments.MaxItemsPerVisitor = k
	trainer := &Engine{cfg: cfg, db: e.db, log: e.log, Now: e.Now}
	train := RunResult{Site: site, RunID: run, AsOf: asOf, Sizes: map[string]uint64{}, cluster: cluster}
	params := trainer.params(site, run, asOf)
	if err := runGraph(2, trainer.sharedTasks(ctx, &train, params, &eventPlan{}, true, nil)); err != nil {
		return res, err
	}
	// Every evaluated visitor is a member of one of the shards _eval_N of
	// at most evalShard visitors: one recommendation query per shard keeps
	// memory bounded however many visitors the site has.
	var n uint64
	db := e.conn(&train)
	rp := []any{clickhouse.Named("site", site), clickhouse.Named("run", run)}
	const held = "SELECT count() FROM seg_eval_holdout WHERE site = @site AND run_id = @run"
	if err := e.settle(ctx, &train, held, rp); err != nil {
		return res, err
	}
	if err := db.QueryRow(ctx, held, rp...).Scan(&n); err != nil {
		return res, err
	}
	shards := max(1, int((n+evalShard-1)/evalShard))
	if err := e.step(ctx, &train, "eval/members", `INSERT INTO seg_members (site, run_id, audience, visitor_id)
		SELECT @site, @run, concat('_eval_', toString(vh % @shards)), visitor_id
		FROM (SELECT vh FROM seg_eval_holdout WHERE site = @site AND run_id = @run) AS held_out
		ALL INNER JOIN (SELECT vh, visitor_id FROM seg_profiles WHERE site = @site AND run_id = @run) AS profiles USING vh`,
		append(rp, clickhouse.Named("shards", shards))); err != nil {
		return res, err
	}
	recs := recommendations("1 = 1", "score")
	for s := 0; s < shards; s++ {
		rp := append(params[:len(params):len(params)], clickhouse.Named("audience", fmt.Sprintf("_eval_%d", s)),
			clickhouse.Named("prios", []int{1, 2}), clickhouse.Named("self", 0), clickhouse.Named("prev", ""))
		if err := e.step(ctx, &train, "eval/recommendations", recs, rp); err != nil {
			return res, err
		}
	}

	p := []any{clickhouse.Named("site", site), clickhouse.Named("run", run), clickhouse.Named("k", k)}
	// Everything the figures read is the training run's.
	if err := e.settle(ctx, &train, "seg_products seg_recommendations seg_interests seg_eval_holdout seg_person_bought", p); err != nil {
		return res, err
	}
	if err := db.QueryRow(ctx, "SELECT count() FROM seg_products WHERE site = @site AND run_id = @run AND in_stock = 1", p...).Scan(&res.Products); err != nil {
		return res, err
	}
	var hits uint64
	var dcg float64
	if err := db.QueryRow(ctx, query("21_eval_model"), p...).Scan(&res.Visitors, &hits, &dcg); err != nil {
		return res, fmt.Errorf("eval model metrics: %w", err)
	}
	var covered uint64
	if err := db.QueryRow(ctx, "SELECT uniqExact(product_id) FROM seg_recommendations WHERE site = @site AND run_id = @run AND startsWith(audience, '_eval_')", p...).Scan(&covered); err != nil {
		return res, err
	}
	res.Model = metrics(hits, dcg, covered, res.Visitors, res.Products)

	popular, err := popular(ctx, db, site, run, k+50)
	if err != nil {
		return res, err
	}
	if len(popular) > 0 {
		bp := append(p, clickhouse.Named("popular", popular))
		if err := db.QueryRow(ctx, query("22_eval_baseline"), bp...).Scan(&hits, &dcg, &covered); err != nil {
			return res, fmt.Errorf("eval baseline metrics: %w", err)
		}
		res.Baseline = metrics(hits, dcg, covered, res.Visitors, res.Products)
	}
	res.Took = time.Since(started)
	return res, nil
}

// evalShard is the most visitors one evaluation recommendation query handles.
const evalShard = 100_000

// popular lists in-stock products (by their hash) by how many visitors
// viewed, carted or bought them in the training interests, most first.
func popular(ctx context.Context, db *chdb.DB, site, run string, n int) ([]uint64, error) {
	rows, err := db.Query(ctx, `SELECT ph FROM (
			SELECT ph, count() AS visitors FROM seg_interests
			WHERE site = @site AND run_id = @run AND ph != 0
				AND greatest(viewed_at, greatest(carted_at, purchased_at)) > toDateTime(0)
			GROUP BY ph
		) AS seen ALL INNER JOIN (
			SELECT ph, product_id FROM seg_products WHERE site = @site AND run_id = @run AND in_stock = 1
		) AS in_stock USING ph
		ORDER BY visitors DESC, product_id LIMIT @n`,
		clickhouse.Named("site", site), clickhouse.Named("run", run), clickhouse.Named("n", n))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func metrics(hits uint64, dcg float64, covered, visitors, products uint64) Metrics {
	var m Metrics
	if visitors > 0 {
		m.HitRate = float64(hits) / float64(visitors)
		m.NDCG = dcg / float64(visitors)
	}
	if products > 0 {
		m.Coverage = float64(covered) / float64(products)
	}
	return m
}
