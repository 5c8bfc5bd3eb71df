-- Each member's ranked products for one audience. Anchors are the member's
-- products chosen by the strategy (anchors.sql with fragments from a fixed
-- list in the code), at most 3; candidates are the anchors' best
-- related products of the allowed strategies (@prios, seg_related_best),
-- plus with @self the anchors themselves (a reminder). Never
-- a product the visitor bought, never out of stock (related products are
-- in stock already). Reminders rank first (prio 0), then upsells (1), then
-- cross-sells (2); within them by score = anchor interest × kind weight /
-- rank, ties by product hash; a product reached from several anchors
-- keeps its best place (from equally good ones, the anchor with the
-- lowest hash, so every server names the same anchor). At most
-- @max_items per member. The working rows are numbers (hashes); ids, titles, reasons and motivations are joined
-- to the final lists only. Members are this audience's rows of
-- seg_members (@audience).
-- Candidates travel as arrays: each anchor's related products sorted
-- once (by prio, −score, hash: the member's order, as the anchor's
-- interest scales every score alike), then per member and anchor less
-- what the member bought and cut to @max_items (a candidate past an
-- anchor's first @max_items has that many better ones before it, so it
-- could never be in the list), then per member merged, sorted and
-- deduplicated. This keeps the 5 M rows of the benchmark's largest
-- audience from ever being rows, and sorts numbers instead of tuples.
-- ClickHouse 18.16 lambdas cannot name a column of a query with a JOIN,
-- so per-row values enter them as arrays (arrayResize(…, n, value)).
-- Reason: "Still in your cart: T" (or "Back in stock: T" when the product
-- was out of stock in the previous run @prev; one the catalog lacked then
-- was not), "Upgrade from T",
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
                SELECT vh, ph, aph, prio, score, rank,
                    multiIf(prio = 0, 'reminder', prio = 1, 'upsell', 'cross_sell') AS strategy
                FROM (
                    SELECT vh,
                        arraySort((x, p, s, h, a) -> (p, -s, h, a), phs, prios, scores, phs, aphs) AS sorted_ph,
                        arrayEnumerateUniq(sorted_ph) AS first,
                        arraySlice(arrayFilter((x, f) -> f = 1, sorted_ph, first), 1, @max_items) AS top_ph,
                        arraySlice(arrayFilter((x, f) -> f = 1, arraySort((x, p, s, h, a) -> (p, -s, h, a), aphs, prios, scores, phs, aphs), first), 1, @max_items) AS top_aph,
                        arraySlice(arrayFilter((x, f) -> f = 1, arraySort((x, p, s, h, a) -> (p, -s, h, a), prios, prios, scores, phs, aphs), first), 1, @max_items) AS top_prio,
                        arraySlice(arrayFilter((x, f) -> f = 1, arraySort((x, p, s, h, a) -> (p, -s, h, a), scores, prios, scores, phs, aphs), first), 1, @max_items) AS top_score
                    FROM (
                        SELECT vh, groupArrayArray(c_ph) AS phs, groupArrayArray(c_aph) AS aphs,
                            groupArrayArray(c_prio) AS prios, groupArrayArray(c_score) AS scores
                        FROM (
                            SELECT vh,
                                arrayMap((h, b) -> NOT has(b, h), rel_ph, arrayResize([bought], length(rel_ph), bought)) AS keep,
                                arraySlice(arrayFilter((x, k) -> k, rel_ph, keep), 1, @max_items) AS c_ph,
                                arrayResize([aph], length(c_ph), aph) AS c_aph,
                                arraySlice(arrayFilter((x, k) -> k, rel_prio, keep), 1, @max_items) AS c_prio,
                                arrayMap((x, w) -> x * w, arraySlice(arrayFilter((x, k) -> k, rel_s, keep), 1, @max_items),
                                    arrayResize([weight], length(c_ph), weight)) AS c_score
                            FROM (
                                SELECT vh, aph, weight, bought, rel_ph, rel_prio, rel_s
                                FROM (
/*ANCHORS*/
                                ) AS anchors ALL INNER JOIN (
                                    SELECT aph,
                                        arraySort((x, p, s, h) -> (p, -s, h), r_ph, r_prio, r_s, r_ph) AS rel_ph,
                                        arraySort((x, p, s, h) -> (p, -s, h), r_prio, r_prio, r_s, r_ph) AS rel_prio,
                                        arraySort((x, p, s, h) -> (p, -s, h), r_s, r_prio, r_s, r_ph) AS rel_s
                                    FROM (
                                        SELECT ph AS aph, groupArray(related_ph) AS r_ph, groupArray(prio) AS r_prio, groupArray(score) AS r_s
                                        FROM seg_related_best
                                        WHERE site = @site AND run_id = @run AND has(@prios, prio)
                                        GROUP BY ph
                                    )
                                ) AS related USING aph
                                UNION ALL
                                SELECT vh, aph, weight, bought, [aph] AS rel_ph, [toUInt8(0)] AS rel_prio, [10.] AS rel_s
                                FROM (
/*SELF_ANCHORS*/
                                ) AS self_anchors ALL INNER JOIN (
                                    SELECT ph AS aph FROM seg_products WHERE site = @site AND run_id = @run AND in_stock = 1
                                ) AS in_stock USING aph
                            )
                        )
                        GROUP BY vh
                    )
                ) ARRAY JOIN top_ph AS ph, top_aph AS aph, top_prio AS prio, top_score AS score, arrayEnumerate(top_ph) AS rank
            ) AS lists ANY LEFT JOIN (
                SELECT ph AS aph, product_id AS anchor_id, if(title != '', title, product_id) AS anchor_title
                FROM seg_products WHERE site = @site AND run_id = @run
            ) AS anchors USING aph
        ) AS lists_anchors ANY LEFT JOIN (
            SELECT ph, product_id, motivation FROM seg_products WHERE site = @site AND run_id = @run
        ) AS products USING ph
    ) AS lists_products ANY LEFT JOIN (
        SELECT cityHash64(visitor_id) AS vh, visitor_id FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience
    ) AS members USING vh
) AS lists_members ANY LEFT JOIN (
    SELECT ph, toUInt8(1) AS was_out
    FROM seg_products WHERE site = @site AND run_id = @prev AND known = 1 AND in_stock = 0
) AS previous USING ph
