-- Next-item evaluation, per method: of the items to predict, how many
-- are in the anchor's list (hits) and the sum of 1/rank (for MRR), and
-- the same among the allowed ones against the list the price rules
-- allow. A pair whose anchor has no list of a method is a miss.
SELECT method, countIf(r > 0) AS hits, sumIf(1 / r, r > 0) AS rr,
    countIf(allowed = 1 AND ar > 0) AS allowed_hits, sumIf(1 / ar, allowed = 1 AND ar > 0) AS allowed_rr
FROM (
    SELECT method, allowed, indexOf(list, b) AS r, indexOf(allowed_list, b) AS ar
    FROM (
        SELECT a, b, allowed FROM seg_eval_pairs WHERE site = @site AND run_id = @run
    ) AS pairs ALL INNER JOIN (
        SELECT a, method, list, allowed AS allowed_list FROM seg_eval_lists WHERE site = @site AND run_id = @run
    ) AS lists USING a
)
GROUP BY method
ORDER BY method
