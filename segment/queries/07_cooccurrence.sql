-- Co-occurrence candidates of one kind (@kind; its baskets are the
-- seg_baskets column the code puts in for the BASKET marker), scored by Dunning's log-likelihood
-- ratio of the 2×2 table (visitors with both, x only, y only, neither), so
-- pairs that are merely both popular score low. Only positive association
-- (together more often than chance) is kept. Pairs are counted once
-- (x < y, packed into one UInt64 key) and used both ways; pairs fewer than
-- @min_pair visitors share are noise and dropped. b is an upsell
-- for a when it is in a's category and priced above a within @up × a's
-- price, a cross-sell when it is in another category at most @xs × a's
-- price (prio 1 and 2 here); anything else, and out-of-stock b, is
-- dropped. Only each anchor's @topk best are written, as 11_related keeps.
-- x·ln x is written x * log(x + (x = 0)), which is 0 at x = 0 (k11, nx and
-- ny are at least 1).
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
                    SELECT x, y, k11,
                        2 * (k11 * log(k11) + k12 * log(k12 + (k12 = 0)) + k21 * log(k21 + (k21 = 0))
                           + k22 * log(k22 + (k22 = 0)) + n * log(n)
                           - nx * log(nx) - (n - nx) * log(n - nx + (n = nx))
                           - ny * log(ny) - (n - ny) * log(n - ny + (n = ny))) AS llr
                    FROM (
                        SELECT x, y, toFloat64(k11_c) AS k11, toFloat64(nx_c) AS nx, toFloat64(ny_c) AS ny,
                            toFloat64((SELECT count() FROM seg_baskets WHERE site = @site AND run_id = @run AND notEmpty(/*BASKET*/))) AS n,
                            nx - k11 AS k12, ny - k11 AS k21, n - nx - ny + k11 AS k22
                        FROM (
                            SELECT x, y, k11_c, nx_c
                            FROM (
                                SELECT toUInt32(intDiv(pair, 4294967296)) AS x, toUInt32(pair % 4294967296) AS y, k11_c
                                FROM (
                                    SELECT pair, count() AS k11_c
                                    FROM (
                                        SELECT bitOr(bitShiftLeft(toUInt64(p), 32), toUInt64(q)) AS pair
                                        FROM (
                                            SELECT arrayJoin(/*BASKET*/) AS p, /*BASKET*/ AS basket
                                            FROM seg_baskets
                                            WHERE site = @site AND run_id = @run AND length(/*BASKET*/) > 1
                                        ) ARRAY JOIN basket AS q
                                        WHERE p < q
                                    )
                                    GROUP BY pair
                                    HAVING k11_c >= @min_pair
                                )
                            ) ANY INNER JOIN (
                                SELECT arrayJoin(/*BASKET*/) AS x, count() AS nx_c
                                FROM seg_baskets WHERE site = @site AND run_id = @run
                                GROUP BY x
                            ) USING x
                        ) ANY INNER JOIN (
                            SELECT arrayJoin(/*BASKET*/) AS y, count() AS ny_c
                            FROM seg_baskets WHERE site = @site AND run_id = @run
                            GROUP BY y
                        ) USING y
                    )
                    WHERE k11 * n > nx * ny
                ) ANY INNER JOIN (
                    SELECT idx AS x, category AS cat_x, price AS price_x, in_stock AS in_stock_x
                    FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
                ) USING x
            ) ANY INNER JOIN (
                SELECT idx AS y, category AS cat_y, price AS price_y, in_stock AS in_stock_y
                FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
            ) USING y
        )
        ARRAY JOIN [(x, y, prio_xy), (y, x, prio_yx)] AS d
        WHERE d.3 != 0
    )
    GROUP BY a
) ARRAY JOIN cs AS c
