-- Work tables (never merged, see 028). Co-occurrence pairs keep sums,
-- so counts from new baskets can be added: k11 baskets holding both, w
-- the sum of their position weights (integers: sums are exact on every
-- server); the diagonal (x = y) holds each product's baskets, the pair
-- (0, 0) all baskets. A run writes each kind apart, so ordered by kind a
-- query of one kind skips the other's parts. seg_pair_items condenses
-- them per product: its baskets and its partners seen in enough baskets
-- (product 0: all baskets).
DROP TABLE IF EXISTS seg_pairs;
CREATE TABLE IF NOT EXISTS seg_pairs (
    site String,
    run_id String,
    kind String,
    x UInt32,
    y UInt32,
    k11 UInt64,
    w UInt64
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY kind
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
CREATE TABLE IF NOT EXISTS seg_pair_items (
    site String,
    run_id String,
    kind String,
    idx UInt32,
    baskets UInt64,
    strong UInt64
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY kind
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
