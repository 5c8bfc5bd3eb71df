-- Offer windows: when a product's discount under one rule runs in one
-- audience's feeds. A window is anchored to the first feed generation
-- that listed the product under the rule, so its dates do not move with
-- later segment runs. seq numbers a product's successive windows under a
-- rule; generations racing to open the same window write the same seq and
-- readers take the earliest start per seq (plain MergeTree: nothing is
-- collapsed behind the reader's back).
CREATE TABLE IF NOT EXISTS feed_offer_windows (
    site String,
    audience String,
    product_id String,
    rule_key String,
    seq UInt32,
    window_start DateTime,
    window_end DateTime,
    created_at DateTime
) ENGINE = MergeTree()
ORDER BY (site, audience, product_id, rule_key, seq);
