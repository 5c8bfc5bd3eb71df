-- Fragment of renumber.sql: every product number of the previous run
-- (idx) beside its number in this run (new, 0 when it has none).
SELECT idx, new
FROM (
    SELECT ph, idx FROM seg_products WHERE site = @site AND run_id = @prev AND known = 1
) AS previous ANY LEFT JOIN (
    SELECT ph, idx AS new FROM seg_numbers WHERE site = @site AND run_id = @run
) AS numbers USING ph
