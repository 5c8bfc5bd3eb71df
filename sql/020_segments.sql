-- Segments: runs, the per-site current-run pointer, audience definitions
-- stored through the admin API, and the run-scoped snapshot tables.
-- Every snapshot table is tagged with run_id and partitioned by it, so a
-- run's rows are written before the pointer moves (readers keep seeing the
-- previous run) and an old run is dropped with DROP PARTITION.
-- Internal tables (seg_*) may change; analysts use the v_* views (021).
--
-- A run's state changes (running, then ok or failed) are rows; the row with
-- the highest updated wins.
CREATE TABLE IF NOT EXISTS seg_runs (
    site String,
    run_id String,
    started_at DateTime,
    finished_at DateTime,
    status String,
    error String,
    as_of DateTime,
    audiences Array(String),
    updated UInt64
) ENGINE = ReplacingMergeTree(updated)
ORDER BY (site, run_id);
-- The current-run pointer: the row with the highest switched wins. One
-- inserted row switches every reader to a complete run at once.
CREATE TABLE IF NOT EXISTS seg_current (
    site String,
    run_id String,
    switched UInt64
) ENGINE = ReplacingMergeTree(switched)
ORDER BY site;
-- Audience definitions from the admin API (JSON); latest version wins,
-- deleted = 1 is a tombstone.
CREATE TABLE IF NOT EXISTS seg_audience_defs (
    site String,
    name String,
    definition String,
    deleted UInt8,
    updated UInt64
) ENGINE = ReplacingMergeTree(updated)
ORDER BY (site, name);
-- Audience size per run, kept for every run (history).
CREATE TABLE IF NOT EXISTS seg_audience_sizes (
    site String,
    audience String,
    run_id String,
    run_time DateTime,
    size UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(run_time)
ORDER BY (site, audience, run_time);
-- The run's working copy of non-bot events, one row per product line
-- (an order of three products is three lines), category filled from the
-- catalog. Dropped when the run ends.
CREATE TABLE IF NOT EXISTS seg_lines (
    site String,
    run_id String,
    visitor_id String,
    user_id String,
    event_time DateTime,
    type String,
    product_id String,
    category String,
    price Float64,
    quantity UInt32,
    opted_out UInt8,
    traits String
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, run_id, visitor_id, event_time);
-- The catalog as the run saw it, with sales statistics and motivation.
CREATE TABLE IF NOT EXISTS seg_products (
    site String,
    run_id String,
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
ORDER BY (site, run_id, product_id);
-- Per visitor: identity, consent and inferred traits.
CREATE TABLE IF NOT EXISTS seg_profiles (
    site String,
    run_id String,
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
    traits String
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, run_id, visitor_id);
-- Per visitor and product: decayed interest score and intent stage.
CREATE TABLE IF NOT EXISTS seg_product_interests (
    site String,
    run_id String,
    visitor_id String,
    product_id String,
    category String,
    score Float64,
    events UInt64,
    last_time DateTime,
    viewed_at DateTime,
    carted_at DateTime,
    removed_at DateTime,
    purchased_at DateTime,
    units_bought UInt64,
    max_line_quantity UInt32,
    stage String
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, run_id, visitor_id, product_id);
-- Per visitor and category prefix ("A", "A > B", "A > B > C").
CREATE TABLE IF NOT EXISTS seg_category_interests (
    site String,
    run_id String,
    visitor_id String,
    category String,
    depth UInt8,
    score Float64,
    events UInt64,
    last_time DateTime
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, run_id, visitor_id, category);
-- Related products per anchor: kind is co_view, co_purchase, declared or
-- category_fallback; strategy is upsell or cross_sell; rank from 1 per
-- product and kind.
CREATE TABLE IF NOT EXISTS seg_related (
    site String,
    run_id String,
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
ORDER BY (site, run_id, product_id, kind, rank);
-- Audience members of a run.
CREATE TABLE IF NOT EXISTS seg_members (
    site String,
    run_id String,
    audience String,
    visitor_id String,
    user_id String,
    email_sha256 String,
    stage String,
    customer_type String,
    trigger_time DateTime
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, run_id, audience, visitor_id);
-- Each member's ranked products.
CREATE TABLE IF NOT EXISTS seg_recommendations (
    site String,
    run_id String,
    audience String,
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
ORDER BY (site, run_id, audience, visitor_id, rank);
-- Each audience's ranked product list (for feeds).
CREATE TABLE IF NOT EXISTS seg_audience_products (
    site String,
    run_id String,
    audience String,
    product_id String,
    anchor_id String,
    strategy String,
    reason String,
    motivation String,
    score Float64,
    rank UInt32,
    members UInt64
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, run_id, audience, rank);
-- Working tables of a run, dropped when it ends: each visitor's capped
-- basket (their most recent products) per co-occurrence kind, and the
-- related-product candidates before ranking.
CREATE TABLE IF NOT EXISTS seg_baskets (
    site String,
    run_id String,
    kind String,
    visitor_id String,
    product_id String,
    category String
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, run_id, kind, visitor_id);
CREATE TABLE IF NOT EXISTS seg_related_candidates (
    site String,
    run_id String,
    product_id String,
    related_id String,
    kind String,
    strategy String,
    score Float64,
    together UInt64
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, run_id, product_id, kind);
-- Offline evaluation: the interaction held out per visitor.
CREATE TABLE IF NOT EXISTS seg_eval_holdout (
    site String,
    run_id String,
    visitor_id String,
    event_time DateTime,
    product_id String
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, run_id, visitor_id);
