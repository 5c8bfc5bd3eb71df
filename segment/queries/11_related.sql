-- Rank the candidates: per anchor and kind the best @topk by score, rank
-- from 1; a pair found by several kinds keeps a row per kind. The reason
-- names the anchor by its catalog title; motivation is the related
-- product's.
INSERT INTO seg_related (site, run_id, product_id, related_id, kind, strategy, score, rank, together, reason, motivation)
SELECT @site, @run, product_id, related_id, kind, strategy, score, rank, together,
    if(strategy = 'upsell', concat('Upgrade from ', anchor_title), concat('Goes with your ', anchor_title)) AS reason,
    motivation
FROM (
    SELECT product_id, related_id, kind, strategy, score, rank, together, anchor_title
    FROM (
        SELECT product_id, kind, c.1 AS related_id, c.2 AS strategy, c.3 AS score, c.4 AS together, r AS rank
        FROM (
            SELECT product_id, kind,
                arraySlice(arraySort(x -> (-x.3, x.1), groupArray((related_id, strategy, score, together))), 1, @topk) AS cs
            FROM (
                SELECT product_id, related_id, kind, any(strategy) AS strategy, max(score) AS score, max(together) AS together
                FROM seg_related_candidates WHERE site = @site AND run_id = @run
                GROUP BY product_id, related_id, kind
            )
            GROUP BY product_id, kind
        ) ARRAY JOIN cs AS c, arrayEnumerate(cs) AS r
    ) ANY LEFT JOIN (
        SELECT product_id, if(title != '', title, product_id) AS anchor_title
        FROM seg_products WHERE site = @site AND run_id = @run
    ) USING product_id
) ANY LEFT JOIN (
    SELECT product_id AS related_id, motivation
    FROM seg_products WHERE site = @site AND run_id = @run
) USING related_id
