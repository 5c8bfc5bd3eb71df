-- Interest per visitor and product: the sum of event weights decayed with
-- the configured half-life, and the intent stage. Stage: carted when the
-- last add_to_cart/checkout is after the last purchase and the last
-- remove_from_cart; else purchased when ever bought; else browsed.
-- Opted-out visitors get no interests.
INSERT INTO seg_product_interests (site, run_id, visitor_id, product_id, category, score, events, last_time, viewed_at, carted_at, removed_at, purchased_at, units_bought, max_line_quantity, stage)
SELECT @site, @run, visitor_id, product_id,
    anyIf(category, category != '') AS category,
    sum(transform(type, @wtypes, @wvals, 0.) * exp(-0.6931471805599453 * (@now - toInt64(event_time)) / (86400. * @half_life_days))) AS score,
    count() AS events,
    max(event_time) AS last_time,
    maxIf(event_time, type = 'product_view') AS viewed_at,
    maxIf(event_time, type IN ('add_to_cart', 'checkout')) AS carted_at,
    maxIf(event_time, type = 'remove_from_cart') AS removed_at,
    maxIf(event_time, type = 'purchase') AS purchased_at,
    sumIf(greatest(quantity, 1), type = 'purchase') AS units_bought,
    maxIf(quantity, type = 'purchase') AS max_line_quantity,
    multiIf(carted_at > purchased_at AND carted_at > removed_at, 'carted',
        purchased_at > toDateTime(0), 'purchased',
        'browsed') AS stage
FROM seg_lines
WHERE site = @site AND run_id = @run AND product_id != ''
    AND visitor_id NOT IN (SELECT visitor_id FROM seg_profiles WHERE site = @site AND run_id = @run AND opted_out = 1)
GROUP BY visitor_id, product_id
