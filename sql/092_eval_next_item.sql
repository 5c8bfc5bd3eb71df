-- Next-item evaluation (remarket eval --next-item), work tables: the
-- product lines of the held-out sessions (vh, time, product; view marks
-- product views), the next items to predict (one row per consecutive
-- pair of different products viewed, a then b; allowed when the price
-- rules would offer b for a), and each method's list per anchor (the
-- first K, and the first K the price rules allow).
CREATE TABLE IF NOT EXISTS seg_eval_sessions (
    site String,
    run_id String,
    vh UInt64,
    event_time DateTime,
    ph UInt64,
    view UInt8
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
CREATE TABLE IF NOT EXISTS seg_eval_pairs (
    site String,
    run_id String,
    a UInt64,
    b UInt64,
    allowed UInt8
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
CREATE TABLE IF NOT EXISTS seg_eval_lists (
    site String,
    run_id String,
    method String,
    a UInt64,
    list Array(UInt64),
    allowed Array(UInt64)
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
