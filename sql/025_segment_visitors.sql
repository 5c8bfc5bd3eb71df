-- Work tables for a run (rows live only while it computes).
-- seg_numbers numbers the catalog's products 1..n (idx, in product id
-- order) at the start of a run, so the profiles pass can collect
-- co-occurrence baskets as numbers before the product snapshot exists.
-- The profiles pass inserts into seg_visitors, which stores nothing
-- (Null engine): two materialized views split each row into the profile
-- (seg_profiles, the snapshot) and the visitor's baskets (seg_baskets).
-- One INSERT can only name one table; this way the pass writes both
-- without a second read. Baskets used to be a step of their own over the
-- interests, one row per kind.
DROP TABLE IF EXISTS seg_baskets;
CREATE TABLE IF NOT EXISTS seg_numbers (
    site String,
    run_id String,
    ph UInt64,
    idx UInt32
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
CREATE TABLE IF NOT EXISTS seg_baskets (
    site String,
    run_id String,
    vh UInt64,
    basket_view Array(UInt32),
    basket_buy Array(UInt32)
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
CREATE TABLE IF NOT EXISTS seg_visitors (
    site String,
    run_id String,
    vh UInt64,
    visitor_id String,
    user_id String,
    email_sha256 String,
    customer_type String,
    customer_type_source String,
    price_band String,
    avg_price Float64,
    opted_out UInt8,
    first_seen DateTime,
    last_seen DateTime,
    events UInt64,
    traits String,
    cond_events Array(UInt64),
    cond_last Array(DateTime),
    basket_view Array(UInt32),
    basket_buy Array(UInt32)
) ENGINE = Null;
CREATE MATERIALIZED VIEW IF NOT EXISTS seg_visitors_to_profiles TO seg_profiles AS
SELECT site, run_id, vh, visitor_id, user_id, email_sha256, customer_type, customer_type_source, price_band, avg_price,
    opted_out, first_seen, last_seen, events, traits, cond_events, cond_last
FROM seg_visitors;
CREATE MATERIALIZED VIEW IF NOT EXISTS seg_visitors_to_baskets TO seg_baskets AS
SELECT site, run_id, vh, basket_view, basket_buy
FROM seg_visitors
WHERE notEmpty(basket_view) OR notEmpty(basket_buy);
