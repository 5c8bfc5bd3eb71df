-- Rank the candidates: per anchor and kind the best @topk by score, rank
-- from 1 (ties by idx); a pair found by several kinds keeps a row per
-- kind, a pair a kind lists twice (declared) its best. The reason names
-- the anchor by its catalog title; motivation is the related product's.
-- Anchors are split in @parts by number (this run does part @part), so
-- the ranking runs on both cores.
INSERT INTO seg_related (site, run_id, ph, related_ph, product_id, related_id, kind, strategy, score, rank, together, reason, motivation)
SELECT @site, @run, ph, related_ph, product_id, related_id, kind, strategy, score, rank, together,
    if(strategy = 'upsell', concat('Upgrade from ', anchor_title), concat('Goes with your ', anchor_title)) AS reason,
    motivation
FROM (
    SELECT a, b, ph, product_id, kind, strategy, score, rank, together, anchor_title
    FROM (
        SELECT a, kind, c.1 AS b, if(c.2 = 1, 'upsell', 'cross_sell') AS strategy, c.3 AS score, c.4 AS together, r AS rank
        FROM (
            SELECT a, kind, arraySlice(arrayFilter((x, u) -> u = 1, sorted, arrayEnumerateUniq(arrayMap(x -> x.1, sorted))), 1, @topk) AS cs
            FROM (
                SELECT a, kind,
                    arraySort(x -> (-x.3, x.1), groupArray((b, toUInt8(if(strategy = 'upsell', 1, 2)), score, together))) AS sorted
                FROM seg_related_candidates WHERE site = @site AND run_id = @run AND a % @parts = @part
                GROUP BY a, kind
            )
        ) ARRAY JOIN cs AS c, arrayEnumerate(cs) AS r
    ) AS ranked ANY LEFT JOIN (
        SELECT idx AS a, ph, product_id, if(title != '', title, product_id) AS anchor_title
        FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
    ) AS anchors USING a
) AS ranked_anchors ANY LEFT JOIN (
    SELECT idx AS b, ph AS related_ph, product_id AS related_id, motivation
    FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
) AS related USING b
