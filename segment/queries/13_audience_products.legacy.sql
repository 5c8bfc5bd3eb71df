-- An audience's ranked product list (for feeds): every product chosen for
-- at least one member, with the anchor, strategy and reason of its best
-- placement; ranked reminders first, then upsells, then cross-sells, then
-- by how many members it was chosen for and their summed score. Members
-- are counted by their hash (vh), as every step of a run keys them: a set
-- of numbers instead of strings, 0.25 s less CPU for the benchmark's
-- largest audience.
-- ClickHouse 18.16 form (no window functions): the products are ranked
-- by sorting one array of tuples. The current form is
-- 13_audience_products.sql.
INSERT INTO seg_audience_products (site, run_id, audience, product_id, anchor_id, strategy, reason, motivation, score, rank, members)
SELECT @site, @run, @audience, p.1, p.2, p.3, p.4, p.5, p.6, r, p.7
FROM (
    SELECT arraySlice(arraySort(x -> (x.8, -x.7, -x.6, x.1),
        groupArray((product_id, best.1, best.2, best.3, mot, total_score, members, prio))), 1, @max_products) AS ps
    FROM (
        SELECT product_id,
            argMin((anchor_id, strategy, reason), (multiIf(strategy = 'reminder', 0, strategy = 'upsell', 1, 2), -score, anchor_id)) AS best,
            any(motivation) AS mot,
            sum(score) AS total_score,
            uniqExact(vh) AS members,
            min(multiIf(strategy = 'reminder', 0, strategy = 'upsell', 1, 2)) AS prio
        FROM seg_recommendations
        WHERE site = @site AND run_id = @run AND audience = @audience
        GROUP BY product_id
    )
) ARRAY JOIN ps AS p, arrayEnumerate(ps) AS r
