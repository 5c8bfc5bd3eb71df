-- Cold start for every product: an anchor with fewer than @topk related
-- products so far (learned, declared, the price-fitted fallbacks of 09
-- and 10) is filled up to @topk with the best sellers of its category
-- (kind 'category_fallback'), and where its category has too few, with
-- the shop's (kind 'bestseller'), so every product gets a list;
-- 11_related places them after learned relations. Best sellers: in
-- stock, by log(1 + 5 × units sold + viewers), then product number; the
-- score is that popularity; products the anchor already lists are
-- skipped. The price rule gives the strategy, as for every relation,
-- except that a shop best seller is never a cross-sell: a cross-sell is
-- from a complementary category (learned, declared or 10's), and the
-- shop's best sellers are any category's (socks are no cross-sell of a
-- camera); it is similar, or an upsell when it is of the anchor's
-- category.
-- Anchors with full lists, most of a large shop's, get no rows. Each
-- category's best sellers come as one array per category (empty for a
-- category with none in stock). ClickHouse 18.16 lambdas cannot name
-- the anchor's columns here (a query over a JOIN), so they enter them
-- as arrays (arrayResize(…, n, value)).
INSERT INTO seg_related_candidates (site, run_id, a, b, kind, strategy, score, together)
SELECT @site, @run, a, b, kind, ['similar', 'upsell', 'cross_sell'][prio + 1], score, 0
FROM (
    SELECT a, c.1 AS b, c.2 AS kind, c.3 AS score, cat_a, price_a, cur_a, c.4 AS cat_b, c.5 AS price_b, c.6 AS cur_b, toUInt8(if(kind = 'bestseller' AND (/*PRIO*/) = 2, 0, /*PRIO*/)) AS prio
    FROM (
        WITH (
            SELECT arraySlice(arraySort(x -> (-x.2, x.1), groupArray((idx, pop, cat, price, cur))), 1, @topk + 1)
            FROM (
                SELECT idx, log(1 + toFloat64(units) * 5 + toFloat64(views)) AS pop, cityHash64(category) AS cat, price, cityHash64(currency) AS cur
                FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND in_stock = 1
            )
        ) AS shop_best
        SELECT a, cat_a, price_a, cur_a,
            arrayPushBack(listed, a) AS taken,
            arraySlice(arrayFilter((x, t) -> NOT has(t, x.1), cat_best, arrayResize([taken], length(cat_best), taken)), 1, free) AS from_category,
            arrayConcat(taken, arrayMap(x -> x.1, from_category)) AS taken_too,
            arraySlice(arrayFilter((x, t) -> NOT has(t, x.1), shop_best, arrayResize([taken_too], length(shop_best), taken_too)),
                1, free - length(from_category)) AS from_shop,
            arrayConcat(arrayMap(x -> (x.1, 'category_fallback', x.2, x.3, x.4, x.5), from_category),
                arrayMap(x -> (x.1, 'bestseller', x.2, x.3, x.4, x.5), from_shop)) AS cs
        FROM (
            SELECT a, cat_a, price_a, cur_a, listed, free, cat_best
            FROM (
                SELECT idx AS a, category, cityHash64(category) AS cat_a, price AS price_a, cur_a, listed,
                    toUInt32(@topk - length(listed)) AS free
                FROM (
                    SELECT idx, category, price, cityHash64(currency) AS cur_a FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
                ) AS anchors ANY LEFT JOIN (
                    SELECT a AS idx, groupUniqArray(b) AS listed FROM seg_related_candidates
                    WHERE site = @site AND run_id = @run
                    GROUP BY a
                ) AS candidates USING idx
                WHERE length(listed) < @topk
            ) AS open_anchors ANY LEFT JOIN (
                SELECT category, arraySlice(arraySort(x -> (-x.2, x.1), groupArray((idx, pop, cat, price, cur))), 1, @topk + 1) AS cat_best
                FROM (
                    SELECT idx, category, log(1 + toFloat64(units) * 5 + toFloat64(views)) AS pop, cityHash64(category) AS cat, price, cityHash64(currency) AS cur
                    FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND in_stock = 1
                )
                GROUP BY category
            ) AS categories USING category
        )
    ) ARRAY JOIN cs AS c
)
