-- Declared relations from the catalog: upgrades, then complements, in
-- the catalog's order (score 1000 − place; a product declared twice
-- keeps its first place). They come first among an anchor's related products (kind
-- 'declared'). An upgrade is offered as an upsell when it is dearer and
-- within @up × the anchor's price, a complement as a cross-sell when it
-- costs at most @xs × it, both in the anchor's currency; otherwise the
-- relation is listed as similar.
-- Out-of-stock products are never listed.
INSERT INTO seg_related_candidates (site, run_id, a, b, kind, strategy, score, together)
SELECT @site, @run, a, b, 'declared',
    multiIf(price_a <= 0 OR price_b <= 0 OR cur_a != cur_b, 'similar',
        declared_as = 'upsell' AND price_b > price_a AND price_b <= @up * price_a, 'upsell',
        declared_as = 'cross_sell' AND price_b <= @xs * price_a, 'cross_sell',
        'similar') AS strategy,
    1000. - rank, 0
FROM (
    SELECT a, price_a, cur_a, d.1 AS related_id, d.2 AS declared_as, toUInt32(d.3) AS rank
    FROM (
        SELECT idx AS a, price AS price_a, currency AS cur_a,
            arrayConcat(arrayMap(x -> (x, 'upsell'), upgrades), arrayMap(x -> (x, 'cross_sell'), complements)) AS listed,
            arrayJoin(arrayFilter((x, u) -> u = 1,
                arrayMap((x, i) -> (x.1, x.2, i), listed, arrayEnumerate(listed)),
                arrayEnumerateUniq(arrayMap(x -> x.1, listed)))) AS d
        FROM seg_products
        WHERE site = @site AND run_id = @run AND known = 1 AND (notEmpty(upgrades) OR notEmpty(complements))
    )
) AS declared ALL INNER JOIN (
    SELECT product_id AS related_id, idx AS b, price AS price_b, currency AS cur_b
    FROM seg_products WHERE site = @site AND run_id = @run AND known = 1 AND in_stock = 1
) AS related USING related_id
WHERE a != b
