-- Each member's ranked products for one audience. Anchors are the member's
-- products chosen by the strategy (/*ANCHOR_WHERE*/, /*ANCHOR_ORDER*/ from
-- a fixed list in the code), at most 3; candidates are the anchors'
-- related products of the allowed @strategies, plus with @self the anchors
-- themselves (a reminder: "Still in your cart", or "Back in stock" when
-- it was out of stock in the previous run @prev). Never a product the
-- visitor bought, never out of stock (related products are in stock
-- already). Reminders rank first, then upsells, then cross-sells; within
-- them by score = anchor interest × kind weight / rank. At most @max_items
-- per member.
INSERT INTO seg_recommendations (site, run_id, audience, visitor_id, product_id, anchor_id, strategy, reason, motivation, score, rank)
SELECT @site, @run, @audience, visitor_id, it.1, it.2, it.3, it.4, it.5, it.6, r
FROM (
    SELECT visitor_id,
        arraySlice(arraySort(x -> (x.7, -x.6, x.1), groupArray((product_id, anchor_id, strategy, reason, motivation, score, prio))), 1, @max_items) AS its
    FROM (
        SELECT visitor_id, product_id, anchor_id, strategy, reason, motivation, score, prio
        FROM (
            SELECT visitor_id, related_id AS product_id, anchor_id, strategy, reason, motivation,
                weight * transform(kind, ['declared', 'co_purchase', 'co_view', 'category_fallback'], [4., 2., 2., 1.], 1.) / rank AS score,
                if(strategy = 'upsell', 1, 2) AS prio
            FROM (
                SELECT visitor_id, product_id AS anchor_id, score + 1e-9 AS weight
                FROM seg_product_interests
                WHERE site = @site AND run_id = @run AND /*ANCHOR_WHERE*/
                    AND visitor_id IN (SELECT visitor_id FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience)
                ORDER BY visitor_id, /*ANCHOR_ORDER*/, product_id
                LIMIT 3 BY visitor_id
            ) ALL INNER JOIN (
                SELECT product_id AS anchor_id, related_id, kind, strategy, rank, reason, motivation
                FROM seg_related
                WHERE site = @site AND run_id = @run AND has(@strategies, strategy)
            ) USING anchor_id
            UNION ALL
            SELECT visitor_id, anchor_id AS product_id, anchor_id, 'reminder' AS strategy,
                if(was_out = 1, concat('Back in stock: ', title), concat('Still in your cart: ', title)) AS reason,
                motivation, weight * 10 AS score, 0 AS prio
            FROM (
                SELECT visitor_id, anchor_id, weight, title, motivation
                FROM (
                    SELECT visitor_id, product_id AS anchor_id, score + 1e-9 AS weight
                    FROM seg_product_interests
                    WHERE @self = 1 AND site = @site AND run_id = @run AND /*ANCHOR_WHERE*/
                        AND visitor_id IN (SELECT visitor_id FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience)
                    ORDER BY visitor_id, /*ANCHOR_ORDER*/, product_id
                    LIMIT 3 BY visitor_id
                ) ALL INNER JOIN (
                    SELECT product_id AS anchor_id, if(title != '', title, product_id) AS title, motivation
                    FROM seg_products WHERE site = @site AND run_id = @run AND in_stock = 1
                ) USING anchor_id
            ) ANY LEFT JOIN (
                -- out of stock in the previous run (@prev), in stock now
                SELECT product_id AS anchor_id, toUInt8(1) AS was_out
                FROM seg_products WHERE site = @site AND run_id = @prev AND in_stock = 0
            ) USING anchor_id
        )
        WHERE (visitor_id, product_id) NOT IN (
            SELECT visitor_id, product_id FROM seg_product_interests
            WHERE site = @site AND run_id = @run AND purchased_at > toDateTime(0)
        )
        ORDER BY visitor_id, product_id, prio, score DESC
        LIMIT 1 BY visitor_id, product_id
    )
    GROUP BY visitor_id
) ARRAY JOIN its AS it, arrayEnumerate(its) AS r
