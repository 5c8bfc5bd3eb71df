-- Next-item evaluation, the most-popular baseline's ranking: in-stock
-- products by the training sessions (eval_sessions.sql) they appear
-- in, then by hash; the first @n, with category hash, price and
-- currency hash for the price rules. Returns ph, cat, price, cur.
SELECT x, cat, price, cur
FROM (
    SELECT arrayJoin(products) AS x, count() AS sessions
    FROM (
/*SESSIONS*/
    )
    GROUP BY x
) AS counts ALL INNER JOIN (
    SELECT ph AS x, cityHash64(category) AS cat, price, cityHash64(currency) AS cur
    FROM seg_products WHERE site = @site AND run_id = @rel_run AND known = 1 AND in_stock = 1
) AS products USING x
ORDER BY sessions DESC, x
LIMIT @n
