-- Next-item evaluation, the item-kNN baseline: for each evaluated
-- anchor a, the products b of the training sessions (eval_sessions.sql)
-- by the cosine of their session co-occurrence, together /
-- sqrt(sessions with a × sessions with b), then by together, then hash:
-- the first @k, and the first @k the price rules allow (b in stock). A
-- plain cosine, no damping or shrinkage, as published item-kNN
-- baselines of session-based recommendation use.
INSERT INTO seg_eval_lists (site, run_id, method, a, list, allowed)
SELECT @site, @run, 'item_knn', a,
    arraySlice(arrayMap(x -> x.1, sorted), 1, @k),
    arraySlice(arrayMap(x -> x.1, arrayFilter(x -> x.2 != 0, sorted)), 1, @k)
FROM (
    SELECT a, arraySort(x -> (-x.3, -x.4, x.1), groupArray((b, ok, cosine, together))) AS sorted
    FROM (
        SELECT a, b, together, together / sqrt(na * nb) AS cosine, toUInt8(stock_b = 1 AND /*PRIO*/ != 0) AS ok
        FROM (
            SELECT a, b, together, na, cat_a, price_a, cur_a
            FROM (
                SELECT p AS a, q AS b, count() AS together
                FROM (
                    SELECT arrayJoin(products) AS p, products
                    FROM (
/*SESSIONS*/
                    )
                    WHERE p IN (SELECT a FROM seg_eval_pairs WHERE site = @site AND run_id = @run)
                ) ARRAY JOIN products AS q
                WHERE p != q
                GROUP BY a, b
            ) AS pairs ANY LEFT JOIN (
                SELECT x AS a, na, cat_a, price_a, cur_a
                FROM (
                    SELECT arrayJoin(products) AS x, count() AS na
                    FROM (
/*SESSIONS*/
                    )
                    GROUP BY x
                ) AS counts ANY LEFT JOIN (
                    SELECT ph AS x, cityHash64(category) AS cat_a, price AS price_a, cityHash64(currency) AS cur_a
                    FROM seg_products WHERE site = @site AND run_id = @rel_run AND known = 1
                ) AS products USING x
            ) AS anchors USING a
        ) AS pairs_a ANY LEFT JOIN (
            SELECT x AS b, nb, cat_b, price_b, cur_b, stock_b
            FROM (
                SELECT arrayJoin(products) AS x, count() AS nb
                FROM (
/*SESSIONS*/
                )
                GROUP BY x
            ) AS counts ANY LEFT JOIN (
                SELECT ph AS x, cityHash64(category) AS cat_b, price AS price_b, cityHash64(currency) AS cur_b, in_stock AS stock_b
                FROM seg_products WHERE site = @site AND run_id = @rel_run AND known = 1
            ) AS products USING x
        ) AS nexts USING b
    )
    GROUP BY a
)
