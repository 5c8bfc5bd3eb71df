-- Related candidates of one kind (@kind) from its co-occurrence pairs
-- (07_pairs), used both ways: b is an upsell for a when it is in a's
-- category and priced above a within @up × a's price, a cross-sell when it
-- is in another category at most @xs × a's price (prio 1 and 2 here);
-- anything else, and out-of-stock b, is dropped. Only each anchor's @topk
-- best are written, as 11_related keeps.
INSERT INTO seg_related_candidates (site, run_id, a, b, kind, strategy, score, together)
SELECT @site, @run, a, c.1, @kind, if(c.2 = 1, 'upsell', 'cross_sell'), c.3, c.4
FROM (
    SELECT a, arraySlice(arraySort(x -> (-x.3, x.1), groupArray((b, prio, llr, k11))), 1, @topk) AS cs
    FROM (
        SELECT d.1 AS a, d.2 AS b, d.3 AS prio, llr, k11
        FROM (
            SELECT x, y, llr, k11,
                toUInt8(multiIf(price_x <= 0 OR price_y <= 0 OR in_stock_y = 0, 0,
                    cat_y = cat_x AND price_y > price_x AND price_y <= @up * price_x, 1,
                    cat_y != cat_x AND price_y <= @xs * price_x, 2, 0)) AS prio_xy,
                toUInt8(multiIf(price_x <= 0 OR price_y <= 0 OR in_stock_x = 0, 0,
                    cat_x = cat_y AND price_x > price_y AND price_x <= @up * price_y, 1,
                    cat_x != cat_y AND price_x <= @xs * price_y, 2, 0)) AS prio_yx
            FROM (
                SELECT x, y, llr, k11, cat_x, price_x, in_stock_x
                FROM (
                    SELECT x, y, llr, k11 FROM seg_pairs WHERE site = @site AND run_id = @run AND kind = @kind
                ) AS pairs ALL INNER JOIN (
                    SELECT idx AS x, category AS cat_x, price AS price_x, in_stock AS in_stock_x
                    FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
                ) AS xs USING x
            ) AS pairs_x ALL INNER JOIN (
                SELECT idx AS y, category AS cat_y, price AS price_y, in_stock AS in_stock_y
                FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
            ) AS ys USING y
        )
        ARRAY JOIN [(x, y, prio_xy), (y, x, prio_yx)] AS d
        WHERE d.3 != 0
    )
    GROUP BY a
) ARRAY JOIN cs AS c
