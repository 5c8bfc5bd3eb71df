-- (Fragment, not a step.) The unknown products an incremental run looks
-- for again (01_unknown_products): those named by some copy of an event
-- a copy of which is new (the NEW marker: stored since the previous run,
-- or dated between its as-of time and this one's). Every copy of such an
-- event counts, not only the new ones: when a new copy takes the place of
-- the kept one, the products of the copy it replaces must be looked at
-- again too. A superset is harmless: each candidate is found again from
-- every event.
(SELECT pid FROM (
    SELECT product_id AS pid
    FROM events
    PREWHERE event_id IN (SELECT event_id FROM events PREWHERE /*NEW*/ WHERE site = @site)
    WHERE site = @site AND product_id != '' AND product_id NOT IN (SELECT product_id FROM v_products WHERE site = @site)
    UNION ALL
    SELECT item_pid AS pid
    FROM (
        SELECT items.product_id AS item_pids
        FROM events
        PREWHERE event_id IN (SELECT event_id FROM events PREWHERE /*NEW*/ WHERE site = @site)
        WHERE site = @site AND notEmpty(items.product_id)
    )
    ARRAY JOIN item_pids AS item_pid
    WHERE item_pid != '' AND item_pid NOT IN (SELECT product_id FROM v_products WHERE site = @site)
))
