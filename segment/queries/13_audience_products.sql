-- An audience's ranked product list (for feeds): every product chosen for
-- at least one member, with the anchor, strategy and reason of its best
-- placement (ties by anchor id); ranked reminders first, then upsells,
-- then cross-sells, then by how many members it was chosen for and their
-- summed score, then by id; the first @max_products. Members are counted
-- by their hash (vh), as every step of a run keys them: a set of numbers
-- instead of strings, 0.25 s less CPU for the benchmark's largest
-- audience. (13_audience_products.legacy.sql is the ClickHouse 18.16 form.)
INSERT INTO seg_audience_products (site, run_id, audience, product_id, anchor_id, strategy, reason, motivation, score, rank, members)
SELECT @site, @run, @audience, product_id, best.1, best.2, best.3, mot, total_score, rank, members
FROM (
    SELECT product_id, best, mot, total_score, members,
        toUInt32(row_number() OVER (ORDER BY prio, members DESC, total_score DESC, product_id)) AS rank
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
    ) AS chosen
) AS ranked
WHERE rank <= @max_products
