-- Cold-start cross-sells: best sellers of complementary categories priced
-- at most @xs × the anchor. A category's complements are the categories
-- carted or bought together with it (by visitors' baskets), plus its
-- siblings under the same top-level category; the 5 strongest are kept,
-- and from each its 20 best sellers; each anchor's @topk best, as
-- 11_related keeps.
INSERT INTO seg_related_candidates (site, run_id, a, b, kind, strategy, score, together)
SELECT @site, @run, a, c.1, 'category_fallback', 'cross_sell', c.2, 0
FROM (
    SELECT a, arraySlice(arraySort(x -> (-x.2, x.1), groupArray((b, score))), 1, @topk) AS cs
    FROM (
        SELECT a, b, cat_score * (log(1 + toFloat64(units_b) * 5 + toFloat64(views_b)) + 0.001) AS score
        FROM (
            SELECT a, price_a, cat_b, cat_score
            FROM (
                SELECT idx AS a, category AS cat_a, price AS price_a
                FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND price > 0 AND category != ''
            ) ALL INNER JOIN (
                SELECT cat_a, cat_b, sum(s) AS cat_score
                FROM (
                    SELECT c1 AS cat_a, c2 AS cat_b, toFloat64(count()) AS s
                    FROM (
                        SELECT arrayJoin(cats) AS c1, cats
                        FROM (
                            SELECT vh, groupUniqArray(category) AS cats
                            FROM (
                                SELECT vh, arrayJoin(basket_buy) AS idx
                                FROM seg_baskets WHERE site = @site AND run_id = @run AND length(basket_buy) > 1
                            ) ANY INNER JOIN (
                                SELECT idx, category FROM seg_products
                                WHERE site = @site AND run_id = @run AND known = 1 AND category != ''
                            ) USING idx
                            GROUP BY vh HAVING length(cats) > 1
                        )
                    ) ARRAY JOIN cats AS c2
                    WHERE c1 != c2
                    GROUP BY c1, c2
                    UNION ALL
                    SELECT cat_a, cat_b, 0.5 AS s
                    FROM (
                        SELECT category AS cat_a, splitByString(' > ', category)[1] AS root
                        FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND category != ''
                        GROUP BY category
                    ) ALL INNER JOIN (
                        SELECT category AS cat_b, splitByString(' > ', category)[1] AS root
                        FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND category != ''
                        GROUP BY category
                    ) USING root
                    WHERE cat_a != cat_b
                )
                GROUP BY cat_a, cat_b
                ORDER BY cat_a, cat_score DESC, cat_b
                LIMIT 5 BY cat_a
            ) USING cat_a
        ) ALL INNER JOIN (
            SELECT idx AS b, category AS cat_b, price AS price_b, units AS units_b, views AS views_b
            FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND in_stock = 1 AND price > 0 AND category != ''
            ORDER BY category, units DESC, views DESC, product_id
            LIMIT 20 BY category
        ) USING cat_b
        WHERE price_b <= @xs * price_a AND a != b
    )
    GROUP BY a
) ARRAY JOIN cs AS c
