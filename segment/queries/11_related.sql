-- The relation: every anchor's related products in one order, position
-- 1 = best, with a row per kind that found it. Per anchor and kind the
-- candidates are ranked by score (rank from 1, ties by number; a product
-- a kind lists twice keeps its best). Then each related product is
-- placed once: declared relations first (in the catalog's order), then
-- learned ones (co-view score + 2 × co-purchase score: having been
-- carted or bought together is the stronger sign), then the category
-- fallbacks, then the shop's best sellers (both by their score), ties
-- by number.
-- The price rules give one strategy per related product (a declared one
-- keeps its declared strategy). An anchor lists its first @topk and, so
-- that audiences always find enough, its first @max_items upsells and
-- cross-sells (a member's list is no longer); positions count the
-- listed ones.
-- Kinds and strategies travel as numbers (kind 0 declared, 1 co_view,
-- 2 co_purchase, 3 category_fallback, 4 bestseller; strategy 0 similar,
-- 1 upsell, 2 cross_sell) and become names at the end. The reason names
-- the anchor by its catalog title; motivation is the related product's.
-- The same pass marks the policy's input: each anchor's first
-- @max_items upsells and cross-sells (best = 1, one row per product),
-- which 11_related_best copies to seg_related_best for
-- 12_recommendations (prio 1 upsell, 2 cross-sell),
-- scored by the weight of the product's best kind (declared 4, learned
-- 2, fallback 1) / its place among the anchor's products of that
-- strategy, so that a member's list, which scales scores by the anchor's
-- interest, prefers learned relations of a strong interest. A member's
-- list is at most @max_items long: deeper candidates could only fill
-- places left by products they bought. The row marked best is the
-- product's first kind in kind order (a group's kinds come in the
-- server's order, so they are sorted).
-- Variants of one item (the same item_group_id) are related only when
-- the catalog declares it: everyone who looks at an item views its sizes
-- or colours, which would otherwise fill its related products and make a
-- dearer size an "upgrade". A group of more than 100 products is taken
-- for a misuse of item_group_id rather than variants, and left alone.
-- Anchors are split in @parts by number (this run does part @part), so
-- the ranking runs on both cores.
INSERT INTO seg_related (site, run_id, ph, related_ph, product_id, related_id, kind, strategy, score, rank, together, reason, motivation, position, prio, best_score, best)
SELECT @site, @run, ph, related_ph, product_id, related_id, kind, strategy, score, rank, together,
    multiIf(strategy = 'upsell', concat('Upgrade from ', anchor_title),
        strategy = 'cross_sell', concat('Goes with your ', anchor_title),
        kind = 'co_view', concat('Often viewed with ', anchor_title),
        kind = 'co_purchase', concat('Often bought with ', anchor_title),
        kind = 'declared', concat('Related to ', anchor_title),
        kind = 'category_fallback', concat('Popular alternative to ', anchor_title),
        'Best seller') AS reason,
    motivation, position, prio, best_score, best
FROM (
    SELECT a, b, ph, product_id, anchor_title, kind, strategy, score, rank, together, position, prio, best_score, best
    FROM (
        SELECT a, l.1 AS b, l.2 AS prio, ['similar', 'upsell', 'cross_sell'][l.2 + 1] AS strategy,
            ['declared', 'co_view', 'co_purchase', 'category_fallback', 'bestseller'][k.1 + 1] AS kind,
            k.2 AS score, k.3 AS rank, k.4 AS together, l.4 AS position,
            [4., 2., 1., 1.][l.5 + 1] / l.6 AS best_score, toUInt8(l.2 != 0 AND l.6 <= @max_items AND ki = 1) AS best
        FROM (
            SELECT a, l
            FROM (
                SELECT a,
                    arraySort(x -> (x.2, -x.3, x.1), groupArray((b, tier, key, strategy, kinds))) AS ordered,
                    arrayEnumerateUniq(arrayMap(x -> x.4, ordered)) AS in_strategy,
                    arrayFilter(x -> x.6 <= @topk OR (x.4 != 0 AND x.7 <= @max_items),
                        arrayMap((x, p, s) -> (x.1, x.2, x.3, x.4, x.5, toUInt32(p), toUInt32(s)),
                            ordered, arrayEnumerate(ordered), in_strategy)) AS listed
                FROM (
                    SELECT a, b, min(tier_row) AS tier,
                        multiIf(tier = 0, maxIf(score, tier_row = 0), tier = 1, sumIf(score * learned_weight, tier_row = 1),
                            tier = 2, maxIf(score, tier_row = 2), maxIf(score, tier_row = 3)) AS key,
                        argMin(strategy_code, tier_row) AS strategy,
                        arraySort(groupArray((kind_code, score, rank, together))) AS kinds
                    FROM (
                        SELECT a, kind_code, c.1 AS b, c.2 AS score, c.3 AS strategy_code, c.4 AS together, toUInt32(r) AS rank,
                            [0, 1, 1, 2, 3][kind_code + 1] AS tier_row,
                            [0., 1., 2., 0., 0.][kind_code + 1] AS learned_weight
                        FROM (
                            SELECT a, toUInt8(transform(kind, ['declared', 'co_view', 'co_purchase', 'category_fallback'], [0, 1, 2, 3], 4)) AS kind_code,
                                arraySort(x -> (-x.2, x.1), groupArray((b, score, toUInt8(transform(strategy, ['upsell', 'cross_sell'], [1, 2], 0)), together))) AS sorted,
                                arrayFilter((x, u) -> u = 1, sorted, arrayEnumerateUniq(arrayMap(x -> x.1, sorted))) AS cs
                            FROM seg_related_candidates
                            WHERE site = @site AND run_id = @run AND a % @parts = @part
                                AND (kind = 'declared' OR (a, b) NOT IN (
                                    SELECT a, arrayJoin(variants) AS b
                                    FROM (
                                        SELECT variants, arrayJoin(variants) AS a
                                        FROM (
                                            SELECT groupArray(idx) AS variants
                                            FROM seg_products
                                            WHERE site = @site AND run_id = @run AND known = 1 AND item_group_id != ''
                                            GROUP BY item_group_id
                                            HAVING count() BETWEEN 2 AND 100
                                        )
                                    )
                                    WHERE a % @parts = @part
                                ))
                            GROUP BY a, kind
                        ) ARRAY JOIN cs AS c, arrayEnumerate(cs) AS r
                    )
                    GROUP BY a, b
                )
                GROUP BY a
            ) ARRAY JOIN arrayMap((x, p) -> (x.1, x.4, x.5, toUInt32(p), x.2, x.7), listed, arrayEnumerate(listed)) AS l
        ) ARRAY JOIN l.3 AS k, arrayEnumerate(l.3) AS ki
    ) AS ranked ANY LEFT JOIN (
        SELECT idx AS a, ph, product_id, if(title != '', title, product_id) AS anchor_title
        FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
    ) AS anchors USING a
) AS ranked_anchors ANY LEFT JOIN (
    SELECT idx AS b, ph AS related_ph, product_id AS related_id, motivation
    FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
) AS related USING b
