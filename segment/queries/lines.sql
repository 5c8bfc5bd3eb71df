-- (Fragment, not a step.) The site's non-bot events up to the run's as-of
-- time as product lines: an event with items[] gives one line per item,
-- any other event one line. vh hashes the visitor, ph the product (0 for
-- a product-less line). Opted-out visitors are left out (00_opted_out).
-- The two kinds of events are read apart: an ARRAY JOIN over every event
-- would copy each row's (mostly empty) item arrays, which under FINAL
-- costs more than reading the events. The events with items are those
-- any copy of which has some, read by id (copies.sql), so that FINAL
-- still meets every copy and keeps the right one. The PREWHERE sits in
-- a subquery under the ARRAY JOIN: current ClickHouse refuses PREWHERE
-- on an array-joined column (ILLEGAL_PREWHERE).
-- The opted-out set is read GLOBAL: a step over the Distributed events
-- of a cluster (a next-item evaluation's baselines) sends this SELECT to
-- every shard, and ClickHouse refuses a plain IN over another
-- Distributed table there ("Double-distributed IN/JOIN subqueries is
-- denied"); GLOBAL reads the set once and ships it. Run per shard, or on
-- one node, GLOBAL NOT IN is NOT IN.
-- Every filter sits in the WHERE that reads events: a WHERE over this
-- union would copy every column of every line once more (10 s and
-- 1.5 GB on the benchmark shop). /*PLAIN_LINES*/ narrows product-less
-- events further (or is empty); the two visitors markers are empty, or
-- for an incremental run the PREWHERE that keeps only the visitors it
-- recomputes (seg_affected): only their rows' other columns are read.
-- It is exact under FINAL: every copy of an event has the same visitor
-- id (the key holds its hash). /*HOLDOUT*/ is empty, or for an evaluation
-- the filter that leaves its held-out lines out.
SELECT vh, pid, if(pid = '', toUInt64(0), cityHash64(pid)) AS ph, visitor_id, user_id, event_time, type,
    line_category, line_price, quantity, traits
FROM (
    SELECT cityHash64(visitor_id) AS vh, visitor_id, user_id, event_time, type,
        product_id AS pid, category AS line_category, price AS line_price, quantity,
        if(type = 'identify', traits, '') AS traits
    FROM events FINAL
    /*VISITORS_PREWHERE*/
    WHERE site = @site AND is_bot = 0 AND visitor_id != '' AND event_time <= toDateTime(@now) AND empty(items.product_id)
        AND cityHash64(visitor_id) GLOBAL NOT IN (SELECT vh FROM seg_opted_out WHERE site = @site AND run_id = @run)
        /*PLAIN_LINES*/
    UNION ALL
    SELECT vh, visitor_id, user_id, event_time, type, pid, line_category, line_price, quantity, '' AS traits
    FROM (
        SELECT cityHash64(visitor_id) AS vh, visitor_id, user_id, event_time, type,
            items.product_id AS item_pids, items.category AS item_categories, items.price AS item_prices, items.quantity AS item_quantities
        FROM events FINAL
        PREWHERE event_id GLOBAL IN (/*ITEM_COPIES*/) /*VISITORS*/
        WHERE site = @site AND notEmpty(items.product_id) AND is_bot = 0 AND visitor_id != '' AND event_time <= toDateTime(@now)
            AND cityHash64(visitor_id) GLOBAL NOT IN (SELECT vh FROM seg_opted_out WHERE site = @site AND run_id = @run)
    ) AS with_items
    ARRAY JOIN item_pids AS pid, item_categories AS line_category, item_prices AS line_price, item_quantities AS quantity
)
/*HOLDOUT*/
