-- An incremental run's profiles, baskets and product lines of the
-- visitors it did not recompute: the previous run's rows as they are
-- (none of them depends on the as-of time once the event windows are
-- accounted for in 00_affected). Opted-out visitors' rows are written
-- by 04_opted_out_profiles in every run. The table, its columns and its
-- filter are fixed text from the code (carried, incremental.go).
INSERT INTO /*TABLE*/ (site, run_id, vh, /*COLUMNS*/)
SELECT site, @run, vh, /*COLUMNS*/
FROM /*TABLE*/
WHERE site = @site AND run_id = @prev /*WHERE*/
    AND vh NOT IN (SELECT vh FROM seg_affected WHERE site = @site AND run_id = @run)
