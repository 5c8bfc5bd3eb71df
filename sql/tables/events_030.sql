-- The events table from migration 030 on (a template, see dialect.go),
-- created as events_by_visitor and renamed to events by 030_events_by_visitor.go.
CREATE TABLE IF NOT EXISTS events_by_visitor (
    site {{lowCardinality "String"}},
    event_id UUID,
    event_time DateTime{{codec "Delta, ZSTD(1)"}},
    received_at DateTime{{codec "Delta, ZSTD(1)"}},
    inserted_at DateTime DEFAULT now(){{codec "Delta, ZSTD(1)"}},
    type {{lowCardinality "String"}},
    name String,
    visitor_id String,
    user_id String,
    product_id String,
    sku String,
    category {{lowCardinality "String"}},
    price Float64,
    currency {{lowCardinality "String"}},
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
    url String{{codec "ZSTD(1)"}},
    referrer String{{codec "ZSTD(1)"}},
    title String{{codec "ZSTD(1)"}},
    user_agent String{{codec "ZSTD(1)"}},
    ip String,
    is_bot UInt8,
    opted_out UInt8,
    properties String{{codec "ZSTD(1)"}},
    traits String{{codec "ZSTD(1)"}},
    ver UInt64 DEFAULT bitOr(bitShiftLeft(toUInt64(4294967295 - toUInt32(received_at)), 32),
        cityHash64(event_time, type, name, user_id, product_id, sku, category, price, currency, quantity, order_id, revenue,
            url, referrer, title, user_agent, ip, is_bot, opted_out, properties, traits) % 4294967296)
) ENGINE = ReplacingMergeTree(ver)
PARTITION BY toYYYYMM(event_time)
ORDER BY (site, cityHash64(visitor_id), event_id)
