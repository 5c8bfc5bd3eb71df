-- Cold-start upsells: best sellers of the anchor's own category priced
-- above it within @up × its price (in its currency), preferring popular items close in
-- price; each anchor's @max_items best, as many upsells as 11_related
-- lists. Each category's
-- in-stock products come as arrays (one row per category and currency), so an anchor
-- filters and scores its ~100 candidates as array elements instead of
-- 2 M anchor × candidate rows. ClickHouse 18.16 lambdas cannot name a
-- column of a query with a JOIN, so the anchor's price and number enter
-- them as arrays (arrayResize(…, n, value)).
INSERT INTO seg_related_candidates (site, run_id, a, b, kind, strategy, score, together)
SELECT @site, @run, a, b, 'category_fallback', 'upsell', score, 0
FROM (
    SELECT a,
        arrayResize([price_a], length(cand_b), price_a) AS pa,
        arrayMap((p, lo) -> p > lo AND p <= @up * lo, cand_price, pa) AS fits,
        arrayFilter((x, f) -> f, cand_b, fits) AS bs,
        arrayMap((p, w, lo) -> w / (1 + abs(log(p / lo))) + 0.001,
            arrayFilter((x, f) -> f, cand_price, fits), arrayFilter((x, f) -> f, cand_pop, fits), arrayFilter((x, f) -> f, pa, fits)) AS ss,
        arraySlice(arraySort((x, s, y) -> (-s, y), bs, ss, bs), 1, @max_items) AS top_b,
        arraySlice(arraySort((x, s, y) -> (-s, y), ss, ss, bs), 1, @max_items) AS top_score
    FROM (
        SELECT idx AS a, category, currency, price AS price_a
        FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND price > 0 AND category != ''
    ) AS anchors ALL INNER JOIN (
        SELECT category, currency, groupArray(idx) AS cand_b, groupArray(price) AS cand_price,
            groupArray(log(1 + toFloat64(units) * 5 + toFloat64(views))) AS cand_pop
        FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND in_stock = 1 AND price > 0 AND category != ''
        GROUP BY category, currency
    ) AS candidates USING (category, currency)
) ARRAY JOIN top_b AS b, top_score AS score
