-- Interest per visitor and product: the sum of event weights decayed with
-- the configured half-life, and the intent stage. Stage: carted when the
-- last add_to_cart/checkout is after the last purchase and the last
-- remove_from_cart; else purchased when ever bought; else browsed.
-- Product-less lines with a category (list views) give one row per
-- visitor and category with ph = 0; they only add to category interests.
-- A product's category is the catalog's, else the one its events gave.
-- One pass over events; the group key is a single UInt64 (the fastest
-- GROUP BY ClickHouse has), and vh, ph ride along as any() (v, p: an
-- alias may not shadow a column another aggregate reads).
INSERT INTO seg_interests (site, run_id, vh, ph, category, score, events, last_time, viewed_at, carted_at, purchased_at, units_bought, stage)
SELECT @site, @run, v, p,
    if(p = 0, replaceRegexpAll(list_category, '\\s*>\\s*', ' > '), product_category) AS category,
    score, events, last_time, viewed_at, carted_at, purchased_at, units_bought,
    multiIf(carted_at > purchased_at AND carted_at > removed_at, 'carted',
        purchased_at > toDateTime(0), 'purchased',
        'browsed') AS stage
FROM (
    SELECT any(vh) AS v, any(ph) AS p,
        anyIf(line_category, ph = 0) AS list_category,
        sum(transform(type, @wtypes, @wvals, 0.) * exp(-0.6931471805599453 * (@now - toInt64(event_time)) / (86400. * @half_life_days))) AS score,
        count() AS events,
        max(event_time) AS last_time,
        maxIf(event_time, type = 'product_view') AS viewed_at,
        maxIf(event_time, type IN ('add_to_cart', 'checkout')) AS carted_at,
        maxIf(event_time, type = 'remove_from_cart') AS removed_at,
        maxIf(event_time, type = 'purchase') AS purchased_at,
        sumIf(greatest(quantity, 1), type = 'purchase') AS units_bought
    FROM (
/*LINES*/
    )
    WHERE ph != 0 OR line_category != ''
    GROUP BY cityHash64(vh, ph, if(ph = 0, line_category, ''))
) ANY LEFT JOIN (
    SELECT ph AS p, category AS product_category FROM seg_products WHERE site = @site AND run_id = @run AND known = 0
    UNION ALL
    SELECT cityHash64(product_id) AS p, category AS product_category FROM v_products WHERE site = @site AND product_id != ''
) USING p
