-- Each member's ranked products for one audience. Anchors are the member's
-- products chosen by the strategy (/*ANCHOR_WHERE*/, /*ANCHOR_ORDER*/ from
-- a fixed list in the code), at most 3; candidates are the anchors' best
-- related products of the allowed strategies (@prios, 11_related_best),
-- plus with @self the anchors themselves (a reminder). Never
-- a product the visitor bought, never out of stock (related products are
-- in stock already). Reminders rank first (prio 0), then upsells (1), then
-- cross-sells (2); within them by score = anchor interest × kind weight /
-- rank; a product reached from several anchors keeps its best place. At
-- most @max_items per member. The working rows are numbers
-- (hashes); ids, titles, reasons and motivations are joined to the final
-- lists only. Members are this audience's rows of seg_members (@audience).
-- Reason: "Still in your cart: T" (or "Back in stock: T" when the product
-- was out of stock in the previous run @prev), "Upgrade from T",
-- "Goes with your T", T being the anchor's title.
INSERT INTO seg_recommendations (site, run_id, audience, vh, visitor_id, product_id, anchor_id, strategy, reason, motivation, score, rank)
SELECT @site, @run, @audience, vh, visitor_id, product_id, anchor_id, strategy,
    multiIf(prio = 0 AND was_out = 1, concat('Back in stock: ', anchor_title),
            prio = 0, concat('Still in your cart: ', anchor_title),
            prio = 1, concat('Upgrade from ', anchor_title),
            concat('Goes with your ', anchor_title)) AS reason,
    motivation, score, rank
FROM (
    SELECT vh, ph, product_id, anchor_id, prio, strategy, score, rank, anchor_title, motivation, visitor_id
    FROM (
        SELECT vh, ph, product_id, anchor_id, prio, strategy, score, rank, anchor_title, motivation
        FROM (
            SELECT vh, ph, anchor_id, prio, strategy, score, rank, anchor_title
            FROM (
                SELECT vh, it.1 AS ph, it.2 AS aph, it.3 AS prio, it.4 AS score, r AS rank,
                    multiIf(prio = 0, 'reminder', prio = 1, 'upsell', 'cross_sell') AS strategy
                FROM (
                    SELECT vh,
                        arraySlice(arrayFilter((x, u) -> u = 1, sorted, arrayEnumerateUniq(arrayMap(x -> x.1, sorted))), 1, @max_items) AS its
                    FROM (
                        SELECT vh, arraySort(x -> (x.3, -x.4, x.1), groupArray((ph, aph, prio, score))) AS sorted
                        FROM (
                            SELECT vh, related_ph AS ph, aph, prio, weight * s AS score
                            FROM (
                                SELECT vh, ph AS aph, score + 1e-9 AS weight
                                FROM seg_interests
                                WHERE site = @site AND run_id = @run AND ph != 0 AND /*ANCHOR_WHERE*/
                                    AND vh IN (SELECT cityHash64(visitor_id) FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience)
                                ORDER BY vh, /*ANCHOR_ORDER*/, ph
                                LIMIT 3 BY vh
                            ) ALL INNER JOIN (
                                SELECT ph AS aph, related_ph, prio, score AS s
                                FROM seg_related_best
                                WHERE site = @site AND run_id = @run AND has(@prios, prio)
                            ) USING aph
                            UNION ALL
                            SELECT vh, aph AS ph, aph, toUInt8(0) AS prio, weight * 10 AS score
                            FROM (
                                SELECT vh, ph AS aph, score + 1e-9 AS weight
                                FROM seg_interests
                                WHERE @self = 1 AND site = @site AND run_id = @run AND ph != 0 AND /*ANCHOR_WHERE*/
                                    AND vh IN (SELECT cityHash64(visitor_id) FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience)
                                ORDER BY vh, /*ANCHOR_ORDER*/, ph
                                LIMIT 3 BY vh
                            ) ALL INNER JOIN (
                                SELECT ph AS aph FROM seg_products WHERE site = @site AND run_id = @run AND in_stock = 1
                            ) USING aph
                        )
                        WHERE (vh, ph) NOT IN (
                            SELECT vh, ph FROM seg_interests
                            WHERE site = @site AND run_id = @run AND ph != 0 AND purchased_at > toDateTime(0)
                                AND vh IN (SELECT cityHash64(visitor_id) FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience)
                        )
                        GROUP BY vh
                    )
                ) ARRAY JOIN its AS it, arrayEnumerate(its) AS r
            ) ANY LEFT JOIN (
                SELECT ph AS aph, product_id AS anchor_id, if(title != '', title, product_id) AS anchor_title
                FROM seg_products WHERE site = @site AND run_id = @run
            ) USING aph
        ) ANY LEFT JOIN (
            SELECT ph, product_id, motivation FROM seg_products WHERE site = @site AND run_id = @run
        ) USING ph
    ) ANY LEFT JOIN (
        SELECT cityHash64(visitor_id) AS vh, visitor_id FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience
    ) USING vh
) ANY LEFT JOIN (
    SELECT ph, toUInt8(1) AS was_out
    FROM seg_products WHERE site = @site AND run_id = @prev AND in_stock = 0
) USING ph
