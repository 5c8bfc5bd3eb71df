-- Two switches can record the same switch_seq: writers on hosts whose
-- clocks are behind the recorded switches each take the highest one
-- plus one. argMax(version, switch_seq) then kept whichever row it met
-- first, and a merge of catalog_versions (sorted by version) could
-- change that, so the current catalog changed with no write. Ties go to
-- the higher version, everywhere the current version is read.
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
    SELECT site, argMax(version, (switch_seq, version))
    FROM catalog_versions
    GROUP BY site
);
DROP TABLE IF EXISTS v_catalog_versions;
CREATE VIEW IF NOT EXISTS v_catalog_versions AS
SELECT
    site,
    version,
    created_at,
    source,
    rows,
    skipped,
    format,
    (site, version) IN (
        SELECT site, argMax(version, (switch_seq, version))
        FROM catalog_versions
        GROUP BY site
    ) AS is_current
FROM catalog_versions
ORDER BY site, switch_seq DESC, version DESC;
