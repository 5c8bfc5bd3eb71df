-- Cold-start upsells: best sellers of the anchor's own category priced
-- above it within @up × its price, preferring popular items close in price.
INSERT INTO seg_related_candidates (site, run_id, a, b, kind, strategy, score, together)
SELECT @site, @run, a, b, 'category_fallback', 'upsell',
    log(1 + toFloat64(units_b) * 5 + toFloat64(views_b)) / (1 + abs(log(price_b / price_a))) + 0.001 AS score, 0
FROM (
    SELECT idx AS a, category, price AS price_a
    FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND price > 0 AND category != ''
) ALL INNER JOIN (
    SELECT idx AS b, category, price AS price_b, units AS units_b, views AS views_b
    FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND in_stock = 1 AND price > 0 AND category != ''
) USING category
WHERE price_b > price_a AND price_b <= @up * price_a
