-- Products seen in events but missing from the catalog, with the category
-- the events gave (separators normalised to " > "). They keep their
-- interests and category, are never recommended (no price, not in stock)
-- and get no idx. A product's category is the greatest normalised one
-- its events gave (a fixed choice, so every server picks the same).
-- An event counts as the copy FINAL keeps (the first received, as in
-- v_events), so a product or category that only a re-sent copy with other
-- content names is not taken. As in lines.sql, the events are read by the
-- ids of those some copy of which names one (copies.sql; PREWHERE comes
-- before FINAL: narrowing by the product itself would let that copy
-- survive beside the kept one), and the product is checked again after
-- FINAL. Events with items[] are read apart (see lines.sql), by the ids
-- of those some copy of which has an unknown item.
-- The catalog's ids are read GLOBAL: on a cluster events is a
-- Distributed table, and each shard would look for v_products in its
-- default database (on one node GLOBAL IN is IN).
-- An incremental run does this step as a full run does, from every
-- event: a new copy of an old event can take the kept copy's place (a
-- spool replay of a copy received earlier, or a tie on the receive time
-- broken by content), which takes that copy's products out, and finding
-- them again would cost what this read does.
INSERT INTO seg_products (site, run_id, ph, idx, known, product_id, category)
SELECT @site, @run, cityHash64(pid), 0, 0, pid, cat
FROM (
    SELECT pid, maxIf(line_category, line_category != '') AS cat
    FROM (
        SELECT pid, replaceRegexpAll(raw_category, '\\s*>\\s*', ' > ') AS line_category
        FROM (
            SELECT product_id AS pid, category AS raw_category
            FROM events FINAL
            PREWHERE event_id GLOBAL IN (/*UNKNOWN_COPIES*/)
            WHERE site = @site AND is_bot = 0 AND event_time <= toDateTime(@now) AND empty(items.product_id)
                AND product_id != '' AND product_id GLOBAL NOT IN (SELECT product_id FROM v_products WHERE site = @site)
            UNION ALL
            SELECT pid, raw_category
            FROM (
                SELECT items.product_id AS item_pids, items.category AS item_categories
                FROM events FINAL
                PREWHERE event_id GLOBAL IN (
                    SELECT event_id
                    FROM (SELECT event_id, items.product_id AS item_pids FROM events PREWHERE notEmpty(items.product_id) WHERE site = @site)
                    ARRAY JOIN item_pids AS item_pid
                    WHERE item_pid != '' AND item_pid GLOBAL NOT IN (SELECT product_id FROM v_products WHERE site = @site)
                )
                WHERE site = @site AND is_bot = 0 AND event_time <= toDateTime(@now) AND notEmpty(items.product_id)
            ) AS with_items
            ARRAY JOIN item_pids AS pid, item_categories AS raw_category
            WHERE pid != '' AND pid GLOBAL NOT IN (SELECT product_id FROM v_products WHERE site = @site)
        )
    )
    GROUP BY pid
)
