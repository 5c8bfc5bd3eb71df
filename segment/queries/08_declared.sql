-- Declared relations from the catalog: upgrades become upsells,
-- complements cross-sells, in the catalog's order. They take precedence
-- over computed ones (kind 'declared' ranks first) but still obey the
-- price rules and never point at an out-of-stock product.
INSERT INTO seg_related_candidates (site, run_id, a, b, kind, strategy, score, together)
SELECT @site, @run, a, b, 'declared', strategy, score, 0
FROM (
    SELECT a, b, strategy, score, price_a, price_b
    FROM (
        SELECT a, price_a, d.1 AS related_id, d.2 AS strategy, d.3 AS score
        FROM (
            SELECT idx AS a, price AS price_a,
                arrayJoin(arrayConcat(
                    arrayMap((x, i) -> (x, 'upsell', 1000. - i), upgrades, arrayEnumerate(upgrades)),
                    arrayMap((x, i) -> (x, 'cross_sell', 1000. - i), complements, arrayEnumerate(complements)))) AS d
            FROM seg_products
            WHERE site = @site AND run_id = @run AND known = 1 AND price > 0 AND (notEmpty(upgrades) OR notEmpty(complements))
        )
    ) AS declared ALL INNER JOIN (
        SELECT product_id AS related_id, idx AS b, price AS price_b
        FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND in_stock = 1 AND price > 0
    ) AS related USING related_id
)
WHERE a != b AND ((strategy = 'upsell' AND price_b > price_a AND price_b <= @up * price_a)
    OR (strategy = 'cross_sell' AND price_b <= @xs * price_a))
