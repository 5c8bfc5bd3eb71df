-- Snapshot the current catalog for this run, with its numbers (idx) from
-- 01_numbers (a product added since waits for the next run), with
-- statistics from the lines the profiles pass collected
-- (seg_product_lines: views and buyers count visitors, units the units
-- bought) and each product's motivation: overstock (tag), new (tag or
-- launched within 30 days), bestseller (top 10% of products by units
-- sold), its currency, which the price rules compare, and its item group,
-- which keeps variants from being each other's related products. Days
-- are UTC days, as everywhere in a run: the server's time zone would move
-- the launch window by a day on a server outside UTC.
INSERT INTO seg_products (site, run_id, ph, idx, known, product_id, title, category, price, currency, in_stock, tags, complements, upgrades, launch_date, views, buyers, units, motivation, item_group_id)
WITH (
    SELECT quantileExact(0.9)(u) FROM (
        SELECT sum(bitAnd(line, 1048575)) AS u
        FROM (SELECT arrayJoin(product_buys) AS line FROM seg_product_lines WHERE site = @site AND run_id = @run)
        GROUP BY bitShiftRight(line, 32)
    )
) AS bestseller_units
SELECT @site, @run, ph, idx, 1, product_id, title, category, price, currency,
    toUInt8(availability != 'out_of_stock') AS in_stock,
    tags, complements, upgrades, launch_date, views, buyers, units,
    multiIf(has(tags, 'overstock'), 'overstock',
        has(tags, 'new') OR (launch_date > toDate('1970-01-01') AND launch_date <= toDate(toDateTime(@now), 'UTC') AND launch_date >= toDate(toDateTime(@now), 'UTC') - 30), 'new',
        units > 0 AND units >= bestseller_units, 'bestseller',
        '') AS motivation,
    item_group_id
FROM (
    SELECT ph, idx, product_id, title, category, price, currency, availability, tags, complements, upgrades, launch_date, item_group_id
    FROM (
        SELECT cityHash64(product_id) AS ph, product_id, title, category, price, currency, availability, tags, complements, upgrades, launch_date, item_group_id
        FROM v_products WHERE site = @site AND product_id != ''
    ) AS catalog ALL INNER JOIN (
        SELECT ph, idx FROM seg_numbers WHERE site = @site AND run_id = @run
    ) AS numbers USING ph
) AS products ANY LEFT JOIN (
    SELECT idx, sum(views) AS views, sum(buyers) AS buyers, sum(units) AS units
    FROM (
        SELECT arrayJoin(product_views) AS idx, toUInt64(1) AS views, toUInt64(0) AS buyers, toUInt64(0) AS units
        FROM seg_product_lines WHERE site = @site AND run_id = @run
        UNION ALL
        SELECT toUInt32(bitShiftRight(line, 32)) AS idx, toUInt64(0) AS views,
            toUInt64(bitAnd(line, 2147483648) != 0) AS buyers, bitAnd(line, 1048575) AS units
        FROM (SELECT arrayJoin(product_buys) AS line FROM seg_product_lines WHERE site = @site AND run_id = @run)
    )
    GROUP BY idx
) AS stats USING idx
