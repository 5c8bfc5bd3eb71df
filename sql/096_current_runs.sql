-- Lookups that stay cheap as runs accumulate. v_segment_runs and
-- v_audience_sizes group every site's runs (the history keeps only runs
-- recorded ok), and ClickHouse 18.16 does not push a reader's site and
-- run into that grouping: at ten sites with a year of quarter-hour runs a
-- feed spent 0.34 s finding its run and 0.93 s checking its audience there
-- (0.01 s and 0.17 s on 26.7; BENCHMARKS.md). Feeds, member exports and
-- the other readers of the current run read these instead.
--
-- Each site's current run with its newest state: the runs grouped are
-- only those seg_current points to, found by seg_runs' key.
CREATE VIEW IF NOT EXISTS v_current_runs AS
SELECT site, run_id,
    argMax(started_at, updated) AS started_at,
    argMax(finished_at, updated) AS finished_at,
    argMax(status, updated) AS status,
    argMax(as_of, updated) AS as_of
FROM seg_runs
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site)
GROUP BY site, run_id;
-- Every run's audience sizes, complete or not, for reads pinned to a run
-- known complete (as the *_by_run views of 094).
CREATE VIEW IF NOT EXISTS v_audience_sizes_by_run AS
SELECT site, audience, run_id, run_time, size
FROM seg_audience_sizes;
