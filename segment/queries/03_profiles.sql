-- One profile per visitor (opted-out visitors: 04_opted_out_profiles),
-- with the identity 00_identities found.
-- Customer type: the latest identify trait customer_type wins; else
-- "professional" when an order line had at least @pro_qty units of one
-- product or identify traits carry company, vat_id or b2b = true; else
-- "consumer". Price band: the visitor's average interacted price (the
-- line's, else the catalog's; avg_price, 0 without any) against the
-- catalog's terciles (price_bands.sql, priceBand). The prices are
-- summed as integers, whole units and millionths apart, exact in any
-- order: doubles added in the order the server's threads read the lines
-- differed in the last bit from run to run, and a band compares the
-- average with a tercile. One sum of millionths would overflow at nine
-- thousand lines of a billion; a price counts as at most 10^15.
-- cond_events / cond_last: for each event condition of the run's
-- audiences (/*COND_FLAGS*/, /*COND_EVENTS*/, /*COND_LAST*/ from the
-- audience compiler, values bound), the visitor's matching lines (or just
-- 1 when any matched) and the latest one's time (when membership needs it).
-- Baskets (co-occurrence): the catalog products (idx, 01_numbers) the
-- visitor viewed (basket_view), or carted or bought (basket_buy), newest
-- first (a product's latest such line; ties by idx), at most @cap, which
-- bounds the pairs one visitor can produce to cap × (cap − 1) / 2. Both
-- kinds of lines go into one array (one aggregate state per visitor
-- instead of two: 0.8 s of CPU on the benchmark shop), packed as
-- time << 32 | carted-or-bought << 31 | (2³¹ − 1 − idx), so one reverse
-- sort orders them and bit 31 splits them. They ride on this pass, so
-- co-occurrence needs nothing from 02_interests.
-- Product statistics: the visitor's distinct viewed products (uncapped)
-- and purchase lines (idx << 32 | units, units = quantity, at least 1;
-- bit 31 marks the visitor's first line of a product), which 05_products
-- counts (seg_product_lines, 027), so the product snapshot and the
-- related products need not wait for interests.
-- Runs beside 02_interests over the same lines, on the other core. Rows
-- go to seg_visitors, whose materialized views write the profile into
-- seg_profiles, the baskets into seg_baskets and the product lines into
-- seg_product_lines (025, 027).
INSERT INTO seg_visitors (site, run_id, vh, visitor_id, user_id, email_sha256, customer_type, customer_type_source, price_band, avg_price, opted_out, first_seen, last_seen, events, traits, cond_events, cond_last, basket_view, basket_buy, product_views, product_buys)
WITH /*BANDS*/ AS bands
SELECT @site, @run, vh, vid, uid,
    if(email = '', '', lower(hex(SHA256(lower(replaceRegexpAll(email, '^\\s+|\\s+$', '')))))) AS email_sha256,
    multiIf(trait_type != '', lower(trait_type), max_qty >= @pro_qty OR b2b = 1, 'professional', 'consumer') AS customer_type,
    if(trait_type != '', 'trait', 'inferred') AS customer_type_source,
    /*PRICE_BAND*/ AS price_band,
    if(isNaN(avg_raw), 0., avg_raw) AS avg_price,
    toUInt8(0), first_seen, last_seen, n_events, last_traits, cond_events, cond_last,
    arraySlice(viewed, 1, @cap) AS basket_view, arraySlice(bought, 1, @cap) AS basket_buy,
    viewed AS product_views, purchases AS product_buys
FROM (
    SELECT vh,
        any(visitor_id) AS vid,
        maxIf(quantity, type = 'purchase') AS max_qty,
        (sumIf(toUInt64(seen_price), seen_price > 0 AND type IN ('product_view', 'add_to_cart', 'checkout', 'purchase'))
            + sumIf(toUInt64(floor((seen_price - floor(seen_price)) * 1000000 + 0.5)), seen_price > 0 AND type IN ('product_view', 'add_to_cart', 'checkout', 'purchase')) / 1000000)
            / countIf(seen_price > 0 AND type IN ('product_view', 'add_to_cart', 'checkout', 'purchase')) AS avg_raw,
        min(event_time) AS first_seen,
        max(event_time) AS last_seen,
        count() AS n_events,
        arrayReverseSort(groupArrayIf(packed, idx != 0 AND type IN ('product_view', 'add_to_cart', 'checkout', 'purchase'))) AS basket_lines,
        arrayMap(x -> toUInt32(2147483647 - bitAnd(x, 2147483647)), arrayFilter(x -> bitAnd(x, 2147483648) = 0, basket_lines)) AS viewed_lines,
        arrayFilter((x, u) -> u = 1, viewed_lines, arrayEnumerateUniq(viewed_lines)) AS viewed,
        arrayMap(x -> toUInt32(2147483647 - bitAnd(x, 2147483647)), arrayFilter(x -> bitAnd(x, 2147483648) != 0, basket_lines)) AS bought_lines,
        arrayFilter((x, u) -> u = 1, bought_lines, arrayEnumerateUniq(bought_lines)) AS bought,
        groupArrayIf(bitOr(bitShiftLeft(toUInt64(idx), 32), toUInt64(greatest(least(quantity, 1048575), 1))),
            idx != 0 AND type = 'purchase') AS purchase_lines,
        arrayMap((x, u) -> if(u = 1, bitOr(x, 2147483648), x),
            purchase_lines, arrayEnumerateUniq(arrayMap(x -> bitShiftRight(x, 32), purchase_lines))) AS purchases,
        /*COND_FLAGS*/ AS flags,
        /*COND_EVENTS*/ AS cond_events,
        /*COND_LAST*/ AS cond_last
    FROM (
        SELECT vh, visitor_id, event_time, type, pid, line_price, quantity,
            if(catalog_category != '', catalog_category, replaceRegexpAll(line_category, '\\s*>\\s*', ' > ')) AS category,
            least(if(line_price > 0, line_price, catalog_price), 1e15) AS seen_price, idx,
            bitOr(bitShiftLeft(toUInt64(event_time), 32),
                bitOr(if(type = 'product_view', toUInt64(0), toUInt64(2147483648)), toUInt64(2147483647 - idx))) AS packed
        FROM (
/*LINES*/
        ) AS lines ANY LEFT JOIN (
            SELECT ph, catalog_category, catalog_price, idx
            FROM (
                SELECT cityHash64(product_id) AS ph, category AS catalog_category, price AS catalog_price FROM v_products WHERE site = @site AND product_id != ''
            ) AS catalog ANY LEFT JOIN (
                SELECT ph, idx FROM seg_numbers WHERE site = @site AND run_id = @run
            ) AS numbers USING ph
        ) AS products USING ph
    )
    GROUP BY vh
) AS visitors ANY LEFT JOIN (
    SELECT vh, user_id AS uid, email, customer_type AS trait_type, b2b, traits AS last_traits
    FROM seg_identities WHERE site = @site AND run_id = @run
) AS identities USING vh
