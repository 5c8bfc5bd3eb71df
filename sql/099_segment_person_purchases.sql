-- A run's work table: for each visitor whose user id other visitor ids
-- share (a user's devices are one person), the products those devices
-- bought, which the visitor is never recommended (segment/queries/
-- 06_person_bought.sql). It has a visitor column, so on a cluster it is
-- sharded by visitor: the recommendations of each shard find their
-- members' rows there, whichever shard the other devices are on. Never
-- merged, like the other work tables (028).
CREATE TABLE IF NOT EXISTS seg_person_bought (
    site String,
    run_id String,
    vh UInt64,
    bought Array(UInt64)
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
