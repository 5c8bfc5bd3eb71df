-- Next-item evaluation, the items to predict: in each held-out session
-- (seg_eval_sessions of @held),
-- every product view followed by a view of another product within @gap
-- seconds (a, then b). allowed: the price rules would offer b for a, as
-- an upsell or a cross-sell (b in stock), by the catalog of run @rel_run.
INSERT INTO seg_eval_pairs (site, run_id, a, b, allowed)
SELECT @site, @run, a, b, toUInt8(stock_b = 1 AND /*PRIO*/ != 0)
FROM (
    SELECT a, b, cat_a, price_a, cur_a
    FROM (
        SELECT p.1 AS a, p.2 AS b
        FROM (
            SELECT arraySort(groupArray((toUInt32(event_time), ph))) AS views,
                arrayFilter(x -> x.1 != x.2 AND x.4 <= x.3 + @gap,
                    arrayMap((f, t) -> (f.2, t.2, f.1, t.1), arrayPopBack(views), arrayPopFront(views))) AS pairs
            FROM seg_eval_sessions WHERE site = @site AND run_id = @held AND view = 1
            GROUP BY vh
        ) ARRAY JOIN pairs AS p
    ) AS pairs ANY LEFT JOIN (
        SELECT ph AS a, cityHash64(category) AS cat_a, price AS price_a, cityHash64(currency) AS cur_a
        FROM seg_products WHERE site = @site AND run_id = @rel_run AND known = 1
    ) AS anchors USING a
) AS pairs_a ANY LEFT JOIN (
    SELECT ph AS b, cityHash64(category) AS cat_b, price AS price_b, cityHash64(currency) AS cur_b, in_stock AS stock_b
    FROM seg_products WHERE site = @site AND run_id = @rel_run AND known = 1
) AS nexts USING b
