-- Offer redemptions: a purchase carrying a valid offer token (the
-- snippet keeps rm_offer from the landing URL and attaches it to later
-- events), or a checkout's POST /api/offers/redeem. One redemption per
-- site, order and offered product: the first recorded (lowest version)
-- wins when a purchase event and the API, or two calls, record the same
-- one. revenue is the order line as reported (price x quantity);
-- discount is what the offer gave away on it (amount off per unit x
-- quantity). rule_key names the discount rule, rule describes it.
CREATE TABLE IF NOT EXISTS offer_redemptions (
    site String,
    order_id String,
    product_id String,
    audience String,
    rule_key String,
    rule String,
    visitor_id String,
    user_id String,
    redeemed_at DateTime,
    quantity UInt32,
    revenue Float64,
    discount Float64,
    currency String,
    source String,
    key_id String,
    recorded_at DateTime,
    version UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(redeemed_at)
ORDER BY (site, order_id, product_id);
-- Analysts' view of redemptions: each (site, order, product) once.
-- Columns may be added, never removed or renamed.
CREATE VIEW IF NOT EXISTS v_offer_redemptions AS
SELECT site, order_id, product_id,
    argMin(r_audience, version) AS audience,
    argMin(r_rule_key, version) AS rule_key,
    argMin(r_rule, version) AS rule,
    argMin(r_visitor_id, version) AS visitor_id,
    argMin(r_user_id, version) AS user_id,
    argMin(r_redeemed_at, version) AS redeemed_at,
    argMin(r_quantity, version) AS quantity,
    argMin(r_revenue, version) AS revenue,
    argMin(r_discount, version) AS discount,
    argMin(r_currency, version) AS currency,
    argMin(r_source, version) AS source
FROM (
    SELECT site, order_id, product_id, version,
        audience AS r_audience, rule_key AS r_rule_key, rule AS r_rule, visitor_id AS r_visitor_id,
        user_id AS r_user_id, redeemed_at AS r_redeemed_at, quantity AS r_quantity, revenue AS r_revenue,
        discount AS r_discount, currency AS r_currency, source AS r_source
    FROM offer_redemptions
)
GROUP BY site, order_id, product_id;
