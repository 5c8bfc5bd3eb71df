-- An incremental run's profiles, baskets and product lines of the
-- visitors it did not recompute: the previous run's rows as they are
-- (none of them depends on the as-of time once the event windows are
-- accounted for in 00_affected), but for a profile's price band. That is
-- banded again by the catalog's terciles (price_bands.sql, in the WITH
-- clause for profiles), whose prices may have changed since; the
-- visitor's average price has not (00_affected recomputes the visitors
-- of every product whose price changed). The average is 0 for a visitor
-- without prices (03_profiles), whose band stays ''. Opted-out visitors'
-- rows are written by 04_opted_out_profiles in every run. The table, its
-- columns, selects and filter are fixed text from the code (carried,
-- incremental.go).
INSERT INTO /*TABLE*/ (site, run_id, vh, /*COLUMNS*/)
/*WITH*/
SELECT site, @run, vh, /*SELECT*/
FROM /*TABLE*/
WHERE site = @site AND run_id = @prev /*WHERE*/
    AND vh NOT IN (SELECT vh FROM seg_affected WHERE site = @site AND run_id = @run)
