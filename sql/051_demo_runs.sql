-- Simulated traffic of `remarket demo` (package demo): one row when a
-- simulation starts and one when it finishes. A re-run reuses the anchor
-- time of an unfinished simulation, so its events get the same ids and
-- collapse with the ones already stored; a finished one is not repeated.
CREATE TABLE IF NOT EXISTS demo_runs (
    site String,
    anchor DateTime,
    seed UInt64,
    visitors UInt32,
    events UInt32,
    status String,
    at DateTime
) ENGINE = MergeTree()
ORDER BY (site, anchor, at);
