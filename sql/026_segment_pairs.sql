-- Co-occurrence pairs of a run with their log-likelihood ratio (07_pairs),
-- counted as soon as the baskets exist; 07_cooccurrence turns them into
-- related candidates once the product snapshot exists. x and y are the
-- run's product numbers (idx), x < y. A work table.
CREATE TABLE IF NOT EXISTS seg_pairs (
    site String,
    run_id String,
    kind String,
    x UInt32,
    y UInt32,
    llr Float64,
    k11 Float64
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
