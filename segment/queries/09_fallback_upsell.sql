-- Cold-start upsells: best sellers of the anchor's own category priced
-- above it within @up × its price, preferring popular items close in
-- price; each anchor's @topk best, as 11_related keeps.
INSERT INTO seg_related_candidates (site, run_id, a, b, kind, strategy, score, together)
SELECT @site, @run, a, c.1, 'category_fallback', 'upsell', c.2, 0
FROM (
    SELECT a, arraySlice(arraySort(x -> (-x.2, x.1), groupArray((b, score))), 1, @topk) AS cs
    FROM (
        SELECT a, b, log(1 + toFloat64(units_b) * 5 + toFloat64(views_b)) / (1 + abs(log(price_b / price_a))) + 0.001 AS score
        FROM (
            SELECT idx AS a, category, price AS price_a
            FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND price > 0 AND category != ''
        ) ALL INNER JOIN (
            SELECT idx AS b, category, price AS price_b, units AS units_b, views AS views_b
            FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND in_stock = 1 AND price > 0 AND category != ''
        ) USING category
        WHERE price_b > price_a AND price_b <= @up * price_a
    )
    GROUP BY a
) ARRAY JOIN cs AS c
