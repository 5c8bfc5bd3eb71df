-- (Fragment, not a step.) The site's non-bot events up to the run's as-of
-- time as product lines: an event with items[] gives one line per item,
-- any other event one line. vh hashes the visitor, ph the product (0 for
-- a product-less line). Opted-out visitors are left out (00_opted_out).
-- /*HOLDOUT*/ is empty, or for an evaluation the filter that leaves its
-- held-out lines out.
SELECT vh, pid, if(pid = '', toUInt64(0), cityHash64(pid)) AS ph, visitor_id, user_id, event_time, type,
    line_category, line_price, quantity, traits
FROM (
    SELECT cityHash64(visitor_id) AS vh, visitor_id, user_id, event_time, type,
        if(i = 0, product_id, items.product_id[i]) AS pid,
        if(i = 0, category, items.category[i]) AS line_category,
        if(i = 0, price, items.price[i]) AS line_price,
        if(i = 0, quantity, items.quantity[i]) AS quantity,
        if(type = 'identify', traits, '') AS traits
    FROM events FINAL
    ARRAY JOIN if(empty(items.product_id), [toUInt32(0)], arrayEnumerate(items.product_id)) AS i
    WHERE site = @site AND is_bot = 0 AND visitor_id != '' AND event_time <= toDateTime(@now)
)
WHERE vh NOT IN (SELECT vh FROM seg_opted_out WHERE site = @site AND run_id = @run)
/*HOLDOUT*/
