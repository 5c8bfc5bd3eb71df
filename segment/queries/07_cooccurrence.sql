-- Co-occurrence candidates of one kind, scored by Dunning's log-likelihood
-- ratio of the 2×2 table (visitors with both, a only, b only, neither), so
-- pairs that are merely both popular score low. Only positive association
-- (together more often than chance) is kept. Pairs are counted once
-- (x < y, packed into one UInt64 key) and then used both ways. A pair
-- becomes an upsell when b is in a's category and priced above a within
-- @up × a's price, a cross-sell when b is in another category at most
-- @xs × a's price; anything else, and out-of-stock b, is dropped.
-- xl(x) = x·ln x is written out as if(x > 0, x * log(x), 0).
INSERT INTO seg_related_candidates (site, run_id, a, b, kind, strategy, score, together)
SELECT @site, @run, a, b, @kind, strategy, llr, k11
FROM (
    SELECT a, b, k11, llr, cat_a, price_a, cat_b, price_b,
        multiIf(cat_b = cat_a AND price_b > price_a AND price_b <= @up * price_a, 'upsell',
                cat_b != cat_a AND price_b <= @xs * price_a, 'cross_sell', '') AS strategy
    FROM (
        SELECT a, b, k11, llr, cat_a, price_a
        FROM (
            SELECT ab.1 AS a, ab.2 AS b, k11, llr
            FROM (
                SELECT x, y, k11,
                    2 * (if(k11 > 0, k11 * log(k11), 0.) + if(k12 > 0, k12 * log(k12), 0.)
                       + if(k21 > 0, k21 * log(k21), 0.) + if(k22 > 0, k22 * log(k22), 0.)
                       + if(n > 0, n * log(n), 0.)
                       - if(nx > 0, nx * log(nx), 0.) - if(n - nx > 0, (n - nx) * log(n - nx), 0.)
                       - if(ny > 0, ny * log(ny), 0.) - if(n - ny > 0, (n - ny) * log(n - ny), 0.)) AS llr
                FROM (
                    SELECT x, y, toFloat64(k11_c) AS k11, toFloat64(nx_c) AS nx, toFloat64(ny_c) AS ny,
                        toFloat64((SELECT count() FROM seg_baskets WHERE site = @site AND run_id = @run AND kind = @kind)) AS n,
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
                                        SELECT arrayJoin(basket) AS p, basket
                                        FROM seg_baskets
                                        WHERE site = @site AND run_id = @run AND kind = @kind AND length(basket) > 1
                                    ) ARRAY JOIN basket AS q
                                    WHERE p < q
                                )
                                GROUP BY pair
                            )
                        ) ANY INNER JOIN (
                            SELECT arrayJoin(basket) AS x, count() AS nx_c
                            FROM seg_baskets WHERE site = @site AND run_id = @run AND kind = @kind
                            GROUP BY x
                        ) USING x
                    ) ANY INNER JOIN (
                        SELECT arrayJoin(basket) AS y, count() AS ny_c
                        FROM seg_baskets WHERE site = @site AND run_id = @run AND kind = @kind
                        GROUP BY y
                    ) USING y
                )
                WHERE k11 * n > nx * ny
            )
            ARRAY JOIN [(x, y), (y, x)] AS ab
        ) ANY INNER JOIN (
            SELECT idx AS a, category AS cat_a, price AS price_a
            FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND price > 0
        ) USING a
    ) ANY INNER JOIN (
        SELECT idx AS b, category AS cat_b, price AS price_b
        FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND in_stock = 1 AND price > 0
    ) USING b
)
WHERE strategy != ''
