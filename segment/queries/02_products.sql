-- Snapshot the current catalog for this run with sales statistics from the
-- run's lines and each product's motivation: overstock (tag), new (tag or
-- launched within 30 days), bestseller (top 10% of products by units sold).
INSERT INTO seg_products (site, run_id, product_id, title, category, price, in_stock, tags, complements, upgrades, launch_date, views, buyers, units, motivation)
WITH (
    SELECT quantileExact(0.9)(u) FROM (
        SELECT sumIf(greatest(quantity, 1), type = 'purchase') AS u
        FROM seg_lines WHERE site = @site AND run_id = @run AND product_id != ''
        GROUP BY product_id HAVING u > 0
    )
) AS bestseller_units
SELECT @site, @run, product_id, title, category, price,
    toUInt8(availability != 'out_of_stock') AS in_stock,
    tags, complements, upgrades, launch_date, views, buyers, units,
    multiIf(has(tags, 'overstock'), 'overstock',
        has(tags, 'new') OR (launch_date > toDate('1970-01-01') AND launch_date <= toDate(toDateTime(@now)) AND launch_date >= toDate(toDateTime(@now)) - 30), 'new',
        units > 0 AND units >= bestseller_units, 'bestseller',
        '') AS motivation
FROM (
    SELECT product_id, title, category, price, availability, tags, complements, upgrades, launch_date
    FROM v_products WHERE site = @site AND product_id != ''
) ANY LEFT JOIN (
    SELECT product_id,
        countIf(type = 'product_view') AS views,
        uniqExactIf(visitor_id, type = 'purchase') AS buyers,
        sumIf(greatest(quantity, 1), type = 'purchase') AS units
    FROM seg_lines WHERE site = @site AND run_id = @run AND product_id != ''
    GROUP BY product_id
) USING product_id
