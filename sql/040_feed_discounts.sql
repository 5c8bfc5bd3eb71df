-- Discount rules set through the admin API (PUT /api/sites/{site}/discounts),
-- one JSON document per site and version; the newest version wins and is
-- merged over the site's YAML rules. History stays for audit.
CREATE TABLE IF NOT EXISTS feed_discount_rules (
    site String,
    version UInt64,
    updated_at DateTime,
    rules String
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, version);
