-- One profile per visitor. Opted out: the visitor's LATEST event says
-- opted_out = 1 (a later consenting event opts them back in; a tie within
-- one second counts as opted out). Customer type: the latest identify
-- trait customer_type wins; else "professional" when an order line had at
-- least @pro_qty units of one product or identify traits carry company,
-- vat_id or b2b = true; else "consumer". Price band: the visitor's average
-- interacted price against the catalog's terciles.
INSERT INTO seg_profiles (site, run_id, visitor_id, user_id, email_sha256, customer_type, customer_type_source, price_band, avg_price, opted_out, first_seen, last_seen, events, traits)
WITH (
    SELECT quantiles(0.3333, 0.6667)(price) FROM seg_products WHERE site = @site AND run_id = @run AND price > 0
) AS bands
SELECT @site, @run, visitor_id, uid,
    if(email = '', '', lower(hex(SHA256(lower(replaceRegexpAll(email, '^\\s+|\\s+$', '')))))) AS email_sha256,
    multiIf(trait_type != '', lower(trait_type), max_qty >= @pro_qty OR b2b = 1, 'professional', 'consumer') AS customer_type,
    if(trait_type != '', 'trait', 'inferred') AS customer_type_source,
    multiIf(isNaN(avg_raw) OR isNaN(bands[1]), '', avg_raw < bands[1], 'low', avg_raw < bands[2], 'mid', 'high') AS price_band,
    if(isNaN(avg_raw), 0., avg_raw) AS avg_price,
    oo, first_seen, last_seen, n_events, last_traits
FROM (
    SELECT visitor_id,
        argMaxIf(user_id, event_time, user_id != '') AS uid,
        argMaxIf(visitParamExtractString(traits, 'email'), event_time, visitParamExtractString(traits, 'email') != '') AS email,
        argMaxIf(visitParamExtractString(traits, 'customer_type'), event_time, visitParamExtractString(traits, 'customer_type') != '') AS trait_type,
        max(visitParamExtractString(traits, 'company') != '' OR visitParamExtractString(traits, 'vat_id') != '' OR visitParamExtractBool(traits, 'b2b') = 1) AS b2b,
        maxIf(quantity, type = 'purchase') AS max_qty,
        avgIf(price, price > 0 AND type IN ('product_view', 'add_to_cart', 'checkout', 'purchase')) AS avg_raw,
        argMax(opted_out, (event_time, opted_out)) AS oo,
        min(event_time) AS first_seen,
        max(event_time) AS last_seen,
        count() AS n_events,
        argMaxIf(traits, event_time, traits != '') AS last_traits
    FROM seg_lines WHERE site = @site AND run_id = @run
    GROUP BY visitor_id
)
