-- Products seen in events but missing from the catalog, with the category
-- the events gave (separators normalised to " > "). They keep their
-- interests and category, are never recommended (no price, not in stock)
-- and get no idx. Events with items[] are read apart (see lines.sql), and
-- a product's category is the greatest normalised one its events gave (a
-- fixed choice, so every server picks the same), so duplicates do not
-- matter. The catalog's ids are read GLOBAL: on a cluster events is a
-- Distributed table, and each shard would look for v_products in its
-- default database (on one node GLOBAL IN is IN).
-- An incremental run reads only the events a full run would add to the
-- previous run's (the NEW markers, in PREWHERE so that only their rows'
-- ids are read: stored since it, or dated between its as-of time and this
-- one's) and merges them with the previous run's
-- unknown products (the PREVIOUS marker): the catalog is the same (else the run is
-- full), and a greatest category only grows as events are added. Events
-- go only by erasure or retention, and then the run reads every event.
INSERT INTO seg_products (site, run_id, ph, idx, known, product_id, category)
SELECT @site, @run, cityHash64(pid), 0, 0, pid, cat
FROM (
    SELECT pid, maxIf(line_category, line_category != '') AS cat
    FROM (
        SELECT pid, replaceRegexpAll(raw_category, '\\s*>\\s*', ' > ') AS line_category
        FROM (
            SELECT product_id AS pid, category AS raw_category
            FROM events
            /*NEW_PREWHERE*/
            WHERE site = @site AND is_bot = 0 AND event_time <= toDateTime(@now) AND product_id != '' AND empty(items.product_id)
                AND product_id GLOBAL NOT IN (SELECT product_id FROM v_products WHERE site = @site)
            UNION ALL
            SELECT pid, raw_category
            FROM (
                SELECT items.product_id AS item_pids, items.category AS item_categories
                FROM events
                PREWHERE notEmpty(items.product_id) /*NEW*/
                WHERE site = @site AND is_bot = 0 AND event_time <= toDateTime(@now)
            ) AS with_items
            ARRAY JOIN item_pids AS pid, item_categories AS raw_category
            WHERE pid != '' AND pid GLOBAL NOT IN (SELECT product_id FROM v_products WHERE site = @site)
        )
        /*PREVIOUS*/
    )
    GROUP BY pid
)
