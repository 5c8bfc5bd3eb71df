-- Analysts' stable view of events: each event id exactly once (FINAL
-- collapses re-sent and replayed copies that have not merged yet).
-- Columns may be added, never removed or renamed.
CREATE VIEW IF NOT EXISTS v_events AS
SELECT
    site, event_id, event_time, type, visitor_id, user_id,
    product_id, category, price, currency, quantity, order_id, revenue,
    url, is_bot, opted_out,
    name, sku, referrer, title, received_at,
    items.product_id AS item_product_ids,
    items.category AS item_categories,
    items.price AS item_prices,
    items.quantity AS item_quantities,
    properties, traits
FROM events FINAL;
