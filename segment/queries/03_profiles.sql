-- One profile per visitor (opted-out visitors: 04_opted_out_profiles),
-- with the identity 00_identities found.
-- Customer type: the latest identify trait customer_type wins; else
-- "professional" when an order line had at least @pro_qty units of one
-- product or identify traits carry company, vat_id or b2b = true; else
-- "consumer". Price band: the visitor's average interacted price (the
-- line's, else the catalog's) against the catalog's terciles.
-- cond_events / cond_last: for each event condition of the run's
-- audiences (/*COND_FLAGS*/, /*COND_EVENTS*/, /*COND_LAST*/ from the
-- audience compiler, values bound), the visitor's matching lines (or just
-- 1 when any matched) and the latest one's time (when membership needs it).
-- Runs beside 02_interests over the same lines, on the other core.
INSERT INTO seg_profiles (site, run_id, vh, visitor_id, user_id, email_sha256, customer_type, customer_type_source, price_band, avg_price, opted_out, first_seen, last_seen, events, traits, cond_events, cond_last)
WITH (
    SELECT quantiles(0.3333, 0.6667)(price) FROM v_products WHERE site = @site AND product_id != '' AND price > 0
) AS bands
SELECT @site, @run, vh, vid, uid,
    if(email = '', '', lower(hex(SHA256(lower(replaceRegexpAll(email, '^\\s+|\\s+$', '')))))) AS email_sha256,
    multiIf(trait_type != '', lower(trait_type), max_qty >= @pro_qty OR b2b = 1, 'professional', 'consumer') AS customer_type,
    if(trait_type != '', 'trait', 'inferred') AS customer_type_source,
    multiIf(isNaN(avg_raw) OR isNaN(bands[1]), '', avg_raw < bands[1], 'low', avg_raw < bands[2], 'mid', 'high') AS price_band,
    if(isNaN(avg_raw), 0., avg_raw) AS avg_price,
    toUInt8(0), first_seen, last_seen, n_events, last_traits, cond_events, cond_last
FROM (
    SELECT vh,
        any(visitor_id) AS vid,
        maxIf(quantity, type = 'purchase') AS max_qty,
        avgIf(if(line_price > 0, line_price, catalog_price), (line_price > 0 OR catalog_price > 0) AND type IN ('product_view', 'add_to_cart', 'checkout', 'purchase')) AS avg_raw,
        min(event_time) AS first_seen,
        max(event_time) AS last_seen,
        count() AS n_events,
        /*COND_FLAGS*/ AS flags,
        /*COND_EVENTS*/ AS cond_events,
        /*COND_LAST*/ AS cond_last
    FROM (
        SELECT vh, visitor_id, event_time, type, pid, line_price, quantity,
            if(catalog_category != '', catalog_category, replaceRegexpAll(line_category, '\\s*>\\s*', ' > ')) AS category,
            catalog_price
        FROM (
/*LINES*/
        ) ANY LEFT JOIN (
            SELECT cityHash64(product_id) AS ph, category AS catalog_category, price AS catalog_price FROM v_products WHERE site = @site AND product_id != ''
        ) USING ph
    )
    GROUP BY vh
) ANY LEFT JOIN (
    SELECT vh, user_id AS uid, email, customer_type AS trait_type, b2b, traits AS last_traits
    FROM seg_identities WHERE site = @site AND run_id = @run
) USING vh
