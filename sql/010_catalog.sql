-- Catalog storage (internal/catalog). Every import and every API upsert
-- writes a complete copy of the site's catalog under a new version into
-- catalog_products, then records it in catalog_versions; the most recently
-- recorded version of a site is its current catalog (v_products). Rows of a
-- version that was never recorded (an import still running, or one that
-- failed) are invisible, so a reader never sees half a catalog.
-- One partition per (site, version): old versions go with DROP PARTITION,
-- which is instant and needs no mutation.
CREATE TABLE IF NOT EXISTS catalog_products (
    site String,
    version UInt64,
    product_id String,
    title String,
    description String,
    link String,
    image_link String,
    price Float64,
    currency String,
    availability String,
    condition String,
    brand String,
    gtin String,
    mpn String,
    category String,
    google_product_category String,
    item_group_id String,
    stock_quantity Int64,
    launch_date Date,
    tags Array(String),
    margin Float64,
    complements Array(String),
    upgrades Array(String)
) ENGINE = MergeTree()
PARTITION BY (site, version)
ORDER BY (site, version, product_id);

-- The per-site pointer and the history: one row per completed version,
-- written only after all its rows are in catalog_products. switch_seq
-- (nanoseconds at the switch) orders them: the highest is current.
CREATE TABLE IF NOT EXISTS catalog_versions (
    site String,
    version UInt64,
    created_at DateTime,
    switch_seq UInt64,
    source String,
    format String,
    rows UInt64,
    skipped UInt64
) ENGINE = MergeTree()
ORDER BY (site, version);
