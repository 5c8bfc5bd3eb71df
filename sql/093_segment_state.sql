-- Incremental segment runs (segment/incremental.go). A run keeps, beside
-- its snapshot, what the next run needs to recompute only the visitors
-- whose events changed: the per-visitor baskets (seg_baskets) and product
-- lines (seg_product_lines, now one row per visitor, so an unchanged
-- visitor's lines can be copied into the next run), and its state record.
-- Kept rows are erased like the snapshot's, by mutations, which
-- ClickHouse runs in the merge pool: the never-merged settings of work
-- tables (028) would leave an erasure's mutation waiting for ever on a
-- replicated table, so these two are merged like snapshot tables.
-- (Recreating them drops only state of runs before this migration,
-- which no incremental run builds on: they have no seg_run_state row.)
DROP TABLE IF EXISTS seg_visitors_to_baskets;
DROP TABLE IF EXISTS seg_baskets;
CREATE TABLE IF NOT EXISTS seg_baskets (
    site String,
    run_id String,
    vh UInt64,
    basket_view Array(UInt32),
    basket_buy Array(UInt32)
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
CREATE MATERIALIZED VIEW IF NOT EXISTS seg_visitors_to_baskets TO seg_baskets AS
SELECT site, run_id, vh, basket_view, basket_buy
FROM seg_visitors
WHERE notEmpty(basket_view) OR notEmpty(basket_buy);
DROP TABLE IF EXISTS seg_visitors_to_product_lines;
DROP TABLE IF EXISTS seg_product_lines;
CREATE TABLE IF NOT EXISTS seg_product_lines (
    site String,
    run_id String,
    vh UInt64,
    product_views Array(UInt32),
    product_buys Array(UInt64)
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
CREATE MATERIALIZED VIEW IF NOT EXISTS seg_visitors_to_product_lines TO seg_product_lines AS
SELECT site, run_id, vh, product_views, product_buys
FROM seg_visitors
WHERE notEmpty(product_views) OR notEmpty(product_buys);
-- The visitors an incremental run recomputes from their events (work
-- table: new or late events, changed opt-out, erasures in progress, event
-- windows crossing them, products whose category changed).
CREATE TABLE IF NOT EXISTS seg_affected (
    site String,
    run_id String,
    vh UInt64,
    visitor_id String
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple()
SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1,
    parts_to_delay_insert = 10000, parts_to_throw_insert = 20000;
-- One row per published run: how it was computed (mode full or
-- incremental, and why a run that could not be incremental was full), the
-- insert-time watermark the next run reads new events from (the server's
-- clock when the run started), the fingerprints of the settings and the
-- catalog its visitor state depends on, and the events partitions it saw.
-- A run whose row is missing (failed, or older than this table) is never
-- the base of an incremental run.
CREATE TABLE IF NOT EXISTS seg_run_state (
    site String,
    run_id String,
    as_of DateTime,
    watermark DateTime,
    mode String,
    reason String,
    settings String,
    catalog String,
    partitions Array(String),
    full_as_of DateTime,
    affected UInt64,
    visitors UInt64
) ENGINE = MergeTree()
ORDER BY (site, run_id);
