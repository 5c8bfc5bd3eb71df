-- Raw events as accepted by ingest. One row per event id; re-sent and
-- replayed copies of an event carry the same id and collapse on merge
-- (ReplacingMergeTree ordered by id); every reader goes through v_events
-- or FINAL so it sees each id once even before the merge.
-- Monthly partitions so retention drops whole months.
CREATE TABLE IF NOT EXISTS events (
    site String,
    event_id UUID,
    event_time DateTime,
    received_at DateTime,
    type String,
    name String,
    visitor_id String,
    user_id String,
    product_id String,
    sku String,
    category String,
    price Float64,
    currency String,
    quantity UInt32,
    order_id String,
    revenue Float64,
    items Nested(
        product_id String,
        sku String,
        category String,
        price Float64,
        quantity UInt32
    ),
    url String,
    referrer String,
    title String,
    user_agent String,
    ip String,
    is_bot UInt8,
    opted_out UInt8,
    properties String,
    traits String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_time)
ORDER BY (site, event_id);
