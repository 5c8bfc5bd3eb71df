-- v_products: the current catalog version of each site, one row per
-- product (the contract every other capability reads the catalog through).
-- launch_date is 1970-01-01 when unknown; stock_quantity 0 when unknown
-- (availability is authoritative); margin 0 when unknown.
CREATE VIEW IF NOT EXISTS v_products AS
SELECT
    site,
    product_id,
    title,
    description,
    link,
    image_link,
    price,
    currency,
    availability,
    condition,
    brand,
    gtin,
    mpn,
    category,
    google_product_category,
    item_group_id,
    stock_quantity,
    launch_date,
    tags,
    margin,
    complements,
    upgrades,
    version
FROM catalog_products
WHERE (site, version) IN (
    SELECT site, argMax(version, switch_seq)
    FROM catalog_versions
    GROUP BY site
);
