-- Related candidates of one kind (@kind) from its co-occurrence pairs
-- (07_pairs), used both ways. a → b scores w × ln(n / nb): the position
-- weighted co-occurrence damped by the inverse document frequency of b
-- (n baskets, nb of them hold b), so that a product every visitor looks
-- at does not top every list (popularity damping). Only positive
-- association is kept (together more often than chance: k11 × n >
-- na × nb), as with the former log-likelihood score.
-- Pairs fewer than @min_pair baskets share are weak evidence: an anchor
-- uses them only while it has fewer than @topk stronger partners (of
-- any kind), so a small shop's lists fill from single sessions while a
-- large shop's rest on repeated ones, and its millions of one-off pairs
-- are dropped before they are joined or scored.
-- Every relation is kept whatever the price rules say (out-of-stock b
-- excepted); the price rule gives its strategy (prio 1 upsell, 2
-- cross-sell, 0 similar), and each anchor keeps its @topk best plus the
-- @max_items best of each strategy (a member's list is no longer), so
-- audiences always find enough upsells and cross-sells. The baskets
-- (n), each product's (na, nb) and its strong partners come from
-- 07_items.
INSERT INTO seg_related_candidates (site, run_id, a, b, kind, strategy, score, together)
SELECT @site, @run, a, c.1, @kind, ['similar', 'upsell', 'cross_sell'][c.2 + 1], c.3, c.4
FROM (
    SELECT a,
        arraySort(x -> (-x.3, x.1), groupArray((b, prio, score, k11))) AS sorted,
        arrayEnumerateUniq(arrayMap(x -> x.2, sorted)) AS in_strategy,
        arrayFilter((x, r, s) -> r <= @topk OR (x.2 != 0 AND s <= @max_items), sorted, arrayEnumerate(sorted), in_strategy) AS cs
    FROM (
        SELECT a, b, k11, weight * log(n / nb) AS score, toUInt8(/*PRIO*/) AS prio
        FROM (
            SELECT d.1 AS a, d.2 AS b, d.3 AS cat_a, d.4 AS price_a, d.5 AS cat_b, d.6 AS price_b, d.7 AS nb, d.9 AS cur_a, d.10 AS cur_b, k11, weight, n
            FROM (
                SELECT x, y, k11, toFloat64(w) / 1048576 AS weight, cat_x, price_x, cur_x, stock_x, nx, cat_y, price_y, cur_y, stock_y, ny,
                    toFloat64((SELECT sum(baskets) FROM seg_pair_items WHERE site = @site AND run_id = @run AND kind = @kind AND idx = 0)) AS n
                FROM (
                    SELECT x, y, k11, w, cat_x, price_x, cur_x, stock_x, nx
                    FROM (
                        SELECT x, y, k11, w FROM seg_pairs
                        WHERE site = @site AND run_id = @run AND kind = @kind AND x != y
                            AND (k11 >= @min_pair OR x NOT IN (/*BUSY*/) OR y NOT IN (/*BUSY*/))
                    ) AS pairs ALL INNER JOIN (
                        SELECT x, cat_x, price_x, cur_x, stock_x, nx
                        FROM (
                            SELECT idx AS x, baskets AS nx FROM seg_pair_items WHERE site = @site AND run_id = @run AND kind = @kind AND idx != 0
                        ) AS baskets ALL INNER JOIN (
                            SELECT idx AS x, cityHash64(category) AS cat_x, price AS price_x, cityHash64(currency) AS cur_x, in_stock AS stock_x
                            FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
                        ) AS products USING x
                    ) AS xs USING x
                ) AS pairs_x ALL INNER JOIN (
                    SELECT y, cat_y, price_y, cur_y, stock_y, ny
                    FROM (
                        SELECT idx AS y, baskets AS ny FROM seg_pair_items WHERE site = @site AND run_id = @run AND kind = @kind AND idx != 0
                    ) AS baskets ALL INNER JOIN (
                        SELECT idx AS y, cityHash64(category) AS cat_y, price AS price_y, cityHash64(currency) AS cur_y, in_stock AS stock_y
                        FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
                    ) AS products USING y
                ) AS ys USING y
            )
            ARRAY JOIN [(x, y, cat_x, price_x, cat_y, price_y, ny, stock_y, cur_x, cur_y), (y, x, cat_y, price_y, cat_x, price_x, nx, stock_x, cur_y, cur_x)] AS d
            WHERE k11 * n > nx * ny AND d.8 = 1 AND (k11 >= @min_pair OR d.1 NOT IN (/*BUSY*/))
        )
    )
    GROUP BY a
) ARRAY JOIN cs AS c
