-- v_catalog_versions: every completed catalog version (imports and API
-- upserts), newest first per site. is_current marks the one v_products
-- shows. Rows of versions older than the kept ones (catalog.keep_versions)
-- are dropped from catalog_products but stay listed here as history.
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
        SELECT site, argMax(version, switch_seq)
        FROM catalog_versions
        GROUP BY site
    ) AS is_current
FROM catalog_versions
ORDER BY site, switch_seq DESC;
