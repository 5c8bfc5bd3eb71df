-- Cold-start cross-sells: best sellers of complementary categories priced
-- at most @xs × the anchor, in its currency. A category's complements are the categories
-- carted or bought together with it (by visitors' baskets), plus its
-- siblings under the same top-level category; the 5 strongest are kept,
-- and from each its 20 best sellers; each anchor's @max_items best, as
-- 11_related keeps. A candidate's score does not depend on the anchor,
-- only whether its price fits does: each category's candidates are sorted
-- once (score, then number), and an anchor keeps the first @max_items that fit
-- (the same list as sorting each anchor's ~100 candidates, without
-- making 2 M rows of them). Complements are other categories, so no
-- candidate is the anchor itself. ClickHouse 18.16 lambdas cannot name a
-- column of a query with a JOIN, so the anchor's limit enters them as an
-- array (arrayResize(…, n, value)).
INSERT INTO seg_related_candidates (site, run_id, a, b, kind, strategy, score, together)
SELECT @site, @run, a, b, 'category_fallback', 'cross_sell', score, 0
FROM (
    SELECT a,
        arrayMap((p, lim, c, ca) -> p <= lim AND c = ca, cand_price, arrayResize([@xs * price_a], length(cand_b), @xs * price_a),
            cand_cur, arrayResize([cur_a], length(cand_b), cur_a)) AS fits,
        arraySlice(arrayFilter((x, f) -> f, cand_b, fits), 1, @max_items) AS bs,
        arraySlice(arrayFilter((x, f) -> f, cand_score, fits), 1, @max_items) AS scores
    FROM (
        SELECT idx AS a, category AS cat_a, price AS price_a, cityHash64(currency) AS cur_a
        FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND price > 0 AND category != ''
    ) AS anchors ALL INNER JOIN (
        SELECT cat_a,
            arraySort((x, s, b) -> (-s, b), cb, cs, cb) AS cand_b,
            arraySort((x, s, b) -> (-s, b), cp, cs, cb) AS cand_price,
            arraySort((x, s, b) -> (-s, b), cc, cs, cb) AS cand_cur,
            arraySort((x, s, b) -> (-s, b), cs, cs, cb) AS cand_score
        FROM (
            SELECT cat_a, groupArray(b) AS cb, groupArray(price_b) AS cp, groupArray(cur_b) AS cc,
                groupArray(cat_score * (log(1 + toFloat64(units_b) * 5 + toFloat64(views_b)) + 0.001)) AS cs
            FROM (
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
                            ) AS lines ALL INNER JOIN (
                                SELECT idx, category FROM seg_products
                                WHERE site = @site AND run_id = @run AND known = 1 AND category != ''
                            ) AS products USING idx
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
                    ) AS cats_a ALL INNER JOIN (
                        SELECT category AS cat_b, splitByString(' > ', category)[1] AS root
                        FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND category != ''
                        GROUP BY category
                    ) AS cats_b USING root
                    WHERE cat_a != cat_b
                )
                GROUP BY cat_a, cat_b
                ORDER BY cat_a, cat_score DESC, cat_b
                LIMIT 5 BY cat_a
            ) AS complements ALL INNER JOIN (
                SELECT idx AS b, category AS cat_b, price AS price_b, cityHash64(currency) AS cur_b, units AS units_b, views AS views_b
                FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND in_stock = 1 AND price > 0 AND category != ''
                ORDER BY category, units DESC, views DESC, product_id
                LIMIT 20 BY category
            ) AS best_sellers USING cat_b
            GROUP BY cat_a
        )
    ) AS candidates USING cat_a
) ARRAY JOIN bs AS b, scores AS score
