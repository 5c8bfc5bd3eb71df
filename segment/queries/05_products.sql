-- Snapshot the current catalog for this run, with its numbers (idx) from
-- 01_numbers (a product added since waits for the next run), with
-- statistics from the run's interests (views and buyers count visitors)
-- and each product's motivation: overstock (tag), new (tag or launched
-- within 30 days), bestseller (top 10% of products by units sold).
INSERT INTO seg_products (site, run_id, ph, idx, known, product_id, title, category, price, in_stock, tags, complements, upgrades, launch_date, views, buyers, units, motivation)
WITH (
    SELECT quantileExact(0.9)(u) FROM (
        SELECT sum(units_bought) AS u FROM seg_interests
        WHERE site = @site AND run_id = @run AND ph != 0 AND units_bought > 0
        GROUP BY ph
    )
) AS bestseller_units
SELECT @site, @run, ph, idx, 1, product_id, title, category, price,
    toUInt8(availability != 'out_of_stock') AS in_stock,
    tags, complements, upgrades, launch_date, views, buyers, units,
    multiIf(has(tags, 'overstock'), 'overstock',
        has(tags, 'new') OR (launch_date > toDate('1970-01-01') AND launch_date <= toDate(toDateTime(@now)) AND launch_date >= toDate(toDateTime(@now)) - 30), 'new',
        units > 0 AND units >= bestseller_units, 'bestseller',
        '') AS motivation
FROM (
    SELECT ph, idx, product_id, title, category, price, availability, tags, complements, upgrades, launch_date
    FROM (
        SELECT cityHash64(product_id) AS ph, product_id, title, category, price, availability, tags, complements, upgrades, launch_date
        FROM v_products WHERE site = @site AND product_id != ''
    ) ANY INNER JOIN (
        SELECT ph, idx FROM seg_numbers WHERE site = @site AND run_id = @run
    ) USING ph
) ANY LEFT JOIN (
    SELECT ph, countIf(viewed_at > toDateTime(0)) AS views, countIf(purchased_at > toDateTime(0)) AS buyers, sum(units_bought) AS units
    FROM seg_interests WHERE site = @site AND run_id = @run AND ph != 0
    GROUP BY ph
) USING ph
