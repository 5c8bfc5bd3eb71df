-- Co-occurrence pairs of one kind (@kind; its baskets are the seg_baskets
-- column the code puts in for the BASKET marker), with Dunning's
-- log-likelihood ratio of the 2×2 table (visitors with both, x only, y
-- only, neither), so pairs that are merely both popular score low. Only
-- positive association (together more often than chance) is kept. Pairs
-- are counted once (x < y, packed into one UInt64 key) and used both
-- ways; pairs fewer than @min_pair visitors share are noise and dropped.
-- Needs only the baskets, so it runs right after the profiles pass, while
-- interests are still being computed, in @parts parts by x (this is part
-- @part), one per core; 07_cooccurrence applies the price and category
-- rules once the product snapshot exists.
-- x·ln x is written x * log(x + (x = 0)), which is 0 at x = 0 (k11, nx and
-- ny are at least 1).
INSERT INTO seg_pairs (site, run_id, kind, x, y, llr, k11)
SELECT @site, @run, @kind, x, y, llr, k11
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
                        WHERE p < q AND p % @parts = @part
                    )
                    GROUP BY pair
                    HAVING k11_c >= @min_pair
                )
            ) AS pairs ALL INNER JOIN (
                SELECT arrayJoin(/*BASKET*/) AS x, count() AS nx_c
                FROM seg_baskets WHERE site = @site AND run_id = @run
                GROUP BY x
            ) AS xs USING x
        ) AS pairs_x ALL INNER JOIN (
            SELECT arrayJoin(/*BASKET*/) AS y, count() AS ny_c
            FROM seg_baskets WHERE site = @site AND run_id = @run
            GROUP BY y
        ) AS ys USING y
    )
    WHERE k11 * n > nx * ny
)
