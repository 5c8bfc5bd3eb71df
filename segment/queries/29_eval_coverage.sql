-- Next-item evaluation, catalog coverage of run @rel_run: in-stock
-- products with views (viewed) and those of them with related products
-- (covered); in-stock products, and the distinct ones among the first
-- @k related products of any product (listed).
SELECT countIf(views > 0) AS viewed, countIf(views > 0 AND related = 1) AS covered, count() AS in_stock,
    (SELECT uniqExact(related_ph) FROM seg_related WHERE site = @site AND run_id = @rel_run AND position <= @k) AS listed
FROM (
    SELECT ph, views FROM seg_products WHERE site = @site AND run_id = @rel_run AND known = 1 AND in_stock = 1
) AS products ANY LEFT JOIN (
    SELECT DISTINCT ph, toUInt8(1) AS related FROM seg_related WHERE site = @site AND run_id = @rel_run
) AS with_related USING ph
