-- Segments, second layout: a run reads events once and keys its working
-- rows by 64-bit hashes (vh = cityHash64(visitor_id), ph =
-- cityHash64(product_id)) instead of strings, and its big tables are not
-- sorted on insert. On ClickHouse both matter more than anything else: a
-- GROUP BY on one UInt64 is 2–5 × faster than on strings or on two keys,
-- and sorting a part on insert costs more than writing it. Reads filter by
-- partition (run_id) and by hash, which scans at hundreds of millions of
-- rows a second. The v_* views keep their columns (023).
--
-- Upgrading drops the rows of the runs made with the first layout, except
-- members and audience product lists (feeds and exports keep serving);
-- the next scheduled run writes a complete snapshot again.
DROP TABLE IF EXISTS seg_lines;
DROP TABLE IF EXISTS seg_baskets;
DROP TABLE IF EXISTS seg_related_candidates;
DROP TABLE IF EXISTS seg_eval_holdout;
DROP TABLE IF EXISTS seg_category_interests;
DROP TABLE IF EXISTS seg_product_interests;
DROP TABLE IF EXISTS seg_profiles;
DROP TABLE IF EXISTS seg_products;
DROP TABLE IF EXISTS seg_related;
DROP TABLE IF EXISTS seg_recommendations;
-- The catalog as the run saw it, plus products seen in events but missing
-- from the catalog (known = 0, never recommended), with sales statistics
-- and motivation. idx numbers the catalog's products 1..n within the run
-- (co-occurrence packs two of them into one UInt64).
CREATE TABLE IF NOT EXISTS seg_products (
    site String,
    run_id String,
    ph UInt64,
    idx UInt32,
    known UInt8,
    product_id String,
    title String,
    category String,
    price Float64,
    in_stock UInt8,
    tags Array(String),
    complements Array(String),
    upgrades Array(String),
    launch_date Date,
    views UInt64,
    buyers UInt64,
    units UInt64,
    motivation String
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, ph);
-- Per visitor: identity, consent, inferred traits, and for each event
-- condition of the run's audiences (in the run's order) how many matching
-- events the visitor had (cond_events) and when the last was (cond_last).
-- The visitor_id of every other table's vh is found here.
CREATE TABLE IF NOT EXISTS seg_profiles (
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
    cond_last Array(DateTime)
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
-- Per visitor and product (ph != 0): decayed interest score and intent
-- stage. Rows with ph = 0 are a visitor's product-less events with a
-- category (list views), one per category: they add to category interests
-- only. Category interests (every prefix of the path) are sums of these
-- rows, computed where they are read (v_visitor_interests, audiences).
-- Opted-out visitors have no rows.
CREATE TABLE IF NOT EXISTS seg_interests (
    site String,
    run_id String,
    vh UInt64,
    ph UInt64,
    category String,
    score Float64,
    events UInt64,
    last_time DateTime,
    viewed_at DateTime,
    carted_at DateTime,
    purchased_at DateTime,
    units_bought UInt64,
    stage String
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
-- Related products per anchor: kind is co_view, co_purchase, declared or
-- category_fallback; strategy is upsell or cross_sell; rank from 1 per
-- product and kind.
CREATE TABLE IF NOT EXISTS seg_related (
    site String,
    run_id String,
    ph UInt64,
    related_ph UInt64,
    product_id String,
    related_id String,
    kind String,
    strategy String,
    score Float64,
    rank UInt32,
    together UInt64,
    reason String,
    motivation String
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, ph);
-- Each member's ranked products.
CREATE TABLE IF NOT EXISTS seg_recommendations (
    site String,
    run_id String,
    audience String,
    vh UInt64,
    visitor_id String,
    product_id String,
    anchor_id String,
    strategy String,
    reason String,
    motivation String,
    score Float64,
    rank UInt32
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
-- Working tables of a run, dropped when it ends: the visitors opted out
-- at the run's time; each visitor's capped basket (their most recent
-- catalog products, by idx) per co-occurrence kind; related-product
-- candidates before ranking; each anchor's best related products per
-- strategy (prio 1 upsell, 2 cross-sell) over all kinds; the visitors
-- each audience's conditions select, before their profile is joined; an
-- evaluation's held-out interactions.
CREATE TABLE IF NOT EXISTS seg_opted_out (
    site String,
    run_id String,
    vh UInt64,
    visitor_id String,
    last_seen DateTime
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
CREATE TABLE IF NOT EXISTS seg_baskets (
    site String,
    run_id String,
    kind String,
    vh UInt64,
    basket Array(UInt32)
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
CREATE TABLE IF NOT EXISTS seg_related_candidates (
    site String,
    run_id String,
    a UInt32,
    b UInt32,
    kind String,
    strategy String,
    score Float64,
    together UInt64
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
CREATE TABLE IF NOT EXISTS seg_related_best (
    site String,
    run_id String,
    ph UInt64,
    related_ph UInt64,
    prio UInt8,
    score Float64
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
CREATE TABLE IF NOT EXISTS seg_member_candidates (
    site String,
    run_id String,
    audience String,
    vh UInt64,
    trigger_time DateTime
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
CREATE TABLE IF NOT EXISTS seg_eval_holdout (
    site String,
    run_id String,
    vh UInt64,
    ph UInt64,
    event_time DateTime
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
