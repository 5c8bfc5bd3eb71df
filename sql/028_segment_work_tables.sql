-- A run's work tables (dropped with the run, see segment/run.go) are never
-- merged: their rows live for one run and are read once or twice, so a
-- merge is work thrown away with them. On the benchmark shop merges were
-- ~11 s of the server's CPU during a 37 s run, 2.6 M of their 16 M rows
-- in these tables. A run writes them in 65,536-row parts, so without
-- merges a partition holds one part per 65,536 rows: the part limits are
-- raised to keep a shop of many millions of visitors (seg_baskets has a
-- row per visitor) from being throttled or refused. Recreating them
-- drops only rows of runs in progress; migrations run before any run.
DROP TABLE IF EXISTS seg_opted_out;
CREATE TABLE IF NOT EXISTS seg_opted_out (
    site String,
    run_id String,
    vh UInt64,
    visitor_id String,
    last_seen DateTime
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
DROP TABLE IF EXISTS seg_identities;
CREATE TABLE IF NOT EXISTS seg_identities (
    site String,
    run_id String,
    vh UInt64,
    visitor_id String,
    user_id String,
    email String,
    customer_type String,
    b2b UInt8,
    traits String
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
DROP TABLE IF EXISTS seg_numbers;
CREATE TABLE IF NOT EXISTS seg_numbers (
    site String,
    run_id String,
    ph UInt64,
    idx UInt32
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
DROP TABLE IF EXISTS seg_baskets;
CREATE TABLE IF NOT EXISTS seg_baskets (
    site String,
    run_id String,
    vh UInt64,
    basket_view Array(UInt32),
    basket_buy Array(UInt32)
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
DROP TABLE IF EXISTS seg_product_lines;
CREATE TABLE IF NOT EXISTS seg_product_lines (
    site String,
    run_id String,
    product_views Array(UInt32),
    product_buys Array(UInt64)
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
DROP TABLE IF EXISTS seg_pairs;
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
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
DROP TABLE IF EXISTS seg_related_candidates;
CREATE TABLE IF NOT EXISTS seg_related_candidates (
    site String,
    run_id String,
    a UInt32,
    b UInt32,
    kind String,
    strategy String,
    score Float64,
    together UInt64
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
DROP TABLE IF EXISTS seg_related_best;
CREATE TABLE IF NOT EXISTS seg_related_best (
    site String,
    run_id String,
    ph UInt64,
    related_ph UInt64,
    prio UInt8,
    score Float64
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
DROP TABLE IF EXISTS seg_member_candidates;
CREATE TABLE IF NOT EXISTS seg_member_candidates (
    site String,
    run_id String,
    audience String,
    vh UInt64,
    trigger_time DateTime
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
DROP TABLE IF EXISTS seg_eval_holdout;
CREATE TABLE IF NOT EXISTS seg_eval_holdout (
    site String,
    run_id String,
    vh UInt64,
    ph UInt64,
    event_time DateTime
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
