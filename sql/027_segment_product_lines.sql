-- Product statistics of a run (visitors who viewed, visitors who bought,
-- units bought per catalog product) collected in the profiles pass, so
-- the product snapshot (05_products) and everything ranked from it no
-- longer wait for the interests pass. seg_visitors gains each visitor's
-- distinct viewed products (product_views: idx, uncapped, unlike
-- basket_view) and purchase lines (product_buys: idx << 32 | units, bit
-- 31 set on the visitor's first line of a product). A materialized view
-- concatenates them per inserted block into one row of
-- seg_product_lines, which 05_products counts. (Counting per product in
-- the view itself, with ARRAY JOIN, cost 5 s: ClickHouse 18.16 copies
-- every column of the inserted block for each array element there; a
-- view's subquery cannot name its aliases, and a view's writes do not
-- reach the views of their target.) The Null table and its views are
-- work tables, recreated here with the new columns rather than altered:
-- a migration that failed halfway is run again, and 18.16 has no ADD
-- COLUMN IF NOT EXISTS.
DROP TABLE IF EXISTS seg_visitors_to_profiles;
DROP TABLE IF EXISTS seg_visitors_to_baskets;
DROP TABLE IF EXISTS seg_visitors;
CREATE TABLE IF NOT EXISTS seg_product_lines (
    site String,
    run_id String,
    product_views Array(UInt32),
    product_buys Array(UInt64)
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
    basket_buy Array(UInt32),
    product_views Array(UInt32),
    product_buys Array(UInt64)
) ENGINE = Null;
CREATE MATERIALIZED VIEW IF NOT EXISTS seg_visitors_to_profiles TO seg_profiles AS
SELECT site, run_id, vh, visitor_id, user_id, email_sha256, customer_type, customer_type_source, price_band, avg_price,
    opted_out, first_seen, last_seen, events, traits, cond_events, cond_last
FROM seg_visitors;
CREATE MATERIALIZED VIEW IF NOT EXISTS seg_visitors_to_baskets TO seg_baskets AS
SELECT site, run_id, vh, basket_view, basket_buy
FROM seg_visitors
WHERE notEmpty(basket_view) OR notEmpty(basket_buy);
CREATE MATERIALIZED VIEW IF NOT EXISTS seg_visitors_to_product_lines TO seg_product_lines AS
SELECT any(site) AS site, any(run_id) AS run_id,
    groupArrayArray(product_views) AS product_views, groupArrayArray(product_buys) AS product_buys
FROM seg_visitors;
