-- Products seen in events but missing from the catalog, with the category
-- the events gave (separators normalised to " > "). They keep their
-- interests and category, are never recommended (no price, not in stock)
-- and get no idx.
INSERT INTO seg_products (site, run_id, ph, idx, known, product_id, category)
SELECT @site, @run, cityHash64(pid), 0, 0, pid, replaceRegexpAll(cat, '\\s*>\\s*', ' > ')
FROM (
    SELECT pid, anyIf(line_category, line_category != '') AS cat
    FROM (
        SELECT if(i = 0, product_id, items.product_id[i]) AS pid,
            if(i = 0, category, items.category[i]) AS line_category
        FROM events
        ARRAY JOIN if(empty(items.product_id), [toUInt32(0)], arrayEnumerate(items.product_id)) AS i
        WHERE site = @site AND is_bot = 0 AND event_time <= toDateTime(@now) AND (product_id != '' OR notEmpty(items.product_id))
    )
    WHERE pid != '' AND pid NOT IN (SELECT product_id FROM v_products WHERE site = @site)
    GROUP BY pid
)
