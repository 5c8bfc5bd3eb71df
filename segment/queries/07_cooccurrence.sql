-- Co-occurrence candidates of one kind, scored by Dunning's log-likelihood
-- ratio of the 2×2 table (visitors with both, a only, b only, neither), so
-- pairs that are merely both popular score low. Only positive association
-- (together more often than chance) is kept. A pair becomes an upsell when
-- b is in a's category and priced above a within @up × a's price, a
-- cross-sell when b is in another category at most @xs × a's price;
-- anything else, and out-of-stock b, is dropped.
-- xl(x) = x·ln x is written out as if(x > 0, x * log(x), 0).
INSERT INTO seg_related_candidates (site, run_id, product_id, related_id, kind, strategy, score, together)
SELECT @site, @run, a, b, @kind, strategy, llr, k11
FROM (
    SELECT a, b, k11, llr, cat_a, price_a, cat_b, price_b,
        multiIf(cat_b = cat_a AND price_b > price_a AND price_b <= @up * price_a, 'upsell',
                cat_b != cat_a AND price_b <= @xs * price_a, 'cross_sell', '') AS strategy
    FROM (
        SELECT a, b, k11, llr, cat_a, price_a
        FROM (
            SELECT a, b, k11,
                2 * (if(k11 > 0, k11 * log(k11), 0.) + if(k12 > 0, k12 * log(k12), 0.)
                   + if(k21 > 0, k21 * log(k21), 0.) + if(k22 > 0, k22 * log(k22), 0.)
                   + if(n > 0, n * log(n), 0.)
                   - if(na > 0, na * log(na), 0.) - if(n - na > 0, (n - na) * log(n - na), 0.)
                   - if(nb > 0, nb * log(nb), 0.) - if(n - nb > 0, (n - nb) * log(n - nb), 0.)) AS llr
            FROM (
                SELECT a, b, toFloat64(k11_c) AS k11, toFloat64(na_c) AS na, toFloat64(nb_c) AS nb,
                    toFloat64((SELECT uniqExact(visitor_id) FROM seg_baskets WHERE site = @site AND run_id = @run AND kind = @kind)) AS n,
                    na - k11 AS k12, nb - k11 AS k21, n - na - nb + k11 AS k22
                FROM (
                    SELECT a, b, k11_c, na_c
                    FROM (
                        SELECT a, b, count() AS k11_c
                        FROM (
                            SELECT arrayJoin(items) AS a, items
                            FROM (
                                SELECT visitor_id, groupArray(product_id) AS items
                                FROM seg_baskets WHERE site = @site AND run_id = @run AND kind = @kind
                                GROUP BY visitor_id HAVING length(items) > 1
                            )
                        ) ARRAY JOIN items AS b
                        WHERE a != b
                        GROUP BY a, b
                    ) ANY INNER JOIN (
                        SELECT product_id AS a, count() AS na_c
                        FROM seg_baskets WHERE site = @site AND run_id = @run AND kind = @kind
                        GROUP BY a
                    ) USING a
                ) ANY INNER JOIN (
                    SELECT product_id AS b, count() AS nb_c
                    FROM seg_baskets WHERE site = @site AND run_id = @run AND kind = @kind
                    GROUP BY b
                ) USING b
            )
            WHERE k11 * n > na * nb
        ) ANY INNER JOIN (
            SELECT product_id AS a, category AS cat_a, price AS price_a
            FROM seg_products WHERE site = @site AND run_id = @run AND price > 0
        ) USING a
    ) ANY INNER JOIN (
        SELECT product_id AS b, category AS cat_b, price AS price_b
        FROM seg_products WHERE site = @site AND run_id = @run AND in_stock = 1 AND price > 0
    ) USING b
)
WHERE strategy != ''
