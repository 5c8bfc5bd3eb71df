-- Related products as a relation, then a policy (issue 19): seg_related
-- now lists every significant related product of a run, with strategy
-- 'similar' where the price rules allow neither an upsell nor a
-- cross-sell, and position, the combined order across kinds (1 = best;
-- every row of one related product of an anchor has the same position).
-- The table is a run snapshot that the next run recomputes, so it is
-- recreated rather than altered (ClickHouse 18.16 has no ADD COLUMN IF
-- NOT EXISTS): v_related_products is empty from the upgrade until the
-- first run after it, while audiences, feeds and recommendations keep
-- serving from their own tables. prio, best_score and best mark each
-- anchor's best upsells and cross-sells, which 11_related_best copies
-- into seg_related_best (internal columns, not in the view).
DROP TABLE IF EXISTS seg_related;
CREATE TABLE IF NOT EXISTS seg_related (
    site String,
    run_id String,
    ph UInt64,
    related_ph UInt64,
    product_id String,
    related_id String,
    kind String,
    strategy String,
    score Float64,
    rank UInt32,
    together UInt64,
    reason String,
    motivation String,
    position UInt32,
    prio UInt8,
    best_score Float64,
    best UInt8
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, ph, position);
-- The view grows by position.
DROP TABLE IF EXISTS v_related_products;
CREATE VIEW IF NOT EXISTS v_related_products AS
SELECT site, product_id, related_id, kind, score, rank, run_id, strategy, together, reason, motivation, position
FROM seg_related
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site);
