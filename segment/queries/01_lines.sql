-- Snapshot the site's non-bot events up to the run's as-of time as product
-- lines: an event with items[] gives one line per item, any other event one
-- line. The category is the catalog's when the product is known, else the
-- event's own path with its separators normalised to " > "; the price is
-- the event's, else the catalog's. /*HOLDOUT*/ is empty, or
-- for an evaluation the filter that leaves its held-out lines out.
-- One query per monthly partition of events (@month): FINAL then merges
-- one partition at a time, and partitions run in parallel.
INSERT INTO seg_lines (site, run_id, visitor_id, user_id, event_time, type, product_id, category, price, quantity, opted_out, traits)
SELECT @site, @run, visitor_id, user_id, event_time, type, product_id,
    if(catalog_category != '', catalog_category, replaceRegexpAll(event_category, '\\s*>\\s*', ' > ')) AS category,
    if(event_price > 0, event_price, catalog_price) AS price, quantity, opted_out, traits
FROM (
    SELECT visitor_id, user_id, event_time, type,
        if(i = 0, product_id, items.product_id[i]) AS product_id,
        if(i = 0, category, items.category[i]) AS event_category,
        if(i = 0, price, items.price[i]) AS event_price,
        if(i = 0, quantity, items.quantity[i]) AS quantity,
        opted_out,
        if(type = 'identify', traits, '') AS traits
    FROM events FINAL
    ARRAY JOIN if(empty(items.product_id), [toUInt32(0)], arrayEnumerate(items.product_id)) AS i
    WHERE site = @site AND is_bot = 0 AND visitor_id != '' AND event_time <= toDateTime(@now)
        AND toYYYYMM(event_time) = @month
) ANY LEFT JOIN (
    SELECT product_id, category AS catalog_category, price AS catalog_price FROM v_products WHERE site = @site AND product_id != ''
) USING product_id
/*HOLDOUT*/
