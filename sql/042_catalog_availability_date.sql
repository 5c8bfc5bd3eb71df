-- availability_date: when a preorder or backorder product becomes
-- available (1970-01-01 00:00:00 when unknown). Google Merchant requires
-- it for those two availabilities, so feeds leave such products out
-- without it. v_products grows by the column.
ALTER TABLE catalog_products ADD COLUMN IF NOT EXISTS availability_date DateTime DEFAULT toDateTime(0);
DROP TABLE IF EXISTS v_products;
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
    version,
    availability_date
FROM catalog_products
WHERE (site, version) IN (
    SELECT site, argMax(version, switch_seq)
    FROM catalog_versions
    GROUP BY site
);
