-- Interest per visitor and category, at every prefix level of the path
-- ("A", "A > B", "A > B > C"): product interests roll up to their
-- category's prefixes, and product-less events with a category (list
-- views) add their own decayed weight.
INSERT INTO seg_category_interests (site, run_id, visitor_id, category, depth, score, events, last_time)
SELECT @site, @run, visitor_id, prefix, toUInt8(length(splitByString(' > ', prefix))) AS depth,
    sum(score), sum(events), max(last_time)
FROM (
    SELECT visitor_id, score, events, last_time,
        arrayJoin(arrayMap(i -> arrayStringConcat(arraySlice(parts, 1, i), ' > '), arrayEnumerate(splitByString(' > ', category) AS parts))) AS prefix
    FROM seg_product_interests
    WHERE site = @site AND run_id = @run AND category != ''
    UNION ALL
    SELECT visitor_id,
        transform(type, @wtypes, @wvals, 0.) * exp(-0.6931471805599453 * (@now - toInt64(event_time)) / (86400. * @half_life_days)) AS score,
        toUInt64(1) AS events, event_time AS last_time,
        arrayJoin(arrayMap(i -> arrayStringConcat(arraySlice(parts, 1, i), ' > '), arrayEnumerate(splitByString(' > ', category) AS parts))) AS prefix
    FROM seg_lines
    WHERE site = @site AND run_id = @run AND product_id = '' AND category != ''
        AND visitor_id NOT IN (SELECT visitor_id FROM seg_profiles WHERE site = @site AND run_id = @run AND opted_out = 1)
)
GROUP BY visitor_id, prefix
