-- Views that current ClickHouse (the analyzer of 24.3+) accepts and
-- reads like 18.16: every joined subquery has an alias, and each join says
-- its strictness with the meaning intended. ANY INNER JOIN keeps one row
-- per key on both sides on current servers (on 18.16 only on the right),
-- so an inner join whose right side is unique per key is ALL INNER JOIN.
-- Installs that applied 023 on 18.16 have its first form; it is replaced.
--
-- Interests of the current run: kind 'category' rows have one row per
-- prefix level of the path (depth 1 = top level), summed from the interest
-- rows here, when read; kind 'product' rows carry the intent stage and its
-- timestamps. key is the category path or the product id. The visitor_id
-- comes from the run's profiles, the product id from its products.
DROP TABLE IF EXISTS v_visitor_interests;
CREATE VIEW IF NOT EXISTS v_visitor_interests AS
SELECT site, run_id, visitor_id, kind, key, category, depth, score, events, last_time, stage,
    viewed_at, carted_at, purchased_at
FROM (
    SELECT site, run_id, vh, 'category' AS kind, prefix AS key, prefix AS category,
        toUInt8(length(splitByString(' > ', prefix))) AS depth,
        sum(score) AS score, sum(events) AS events, max(last_time) AS last_time, '' AS stage,
        toDateTime(0) AS viewed_at, toDateTime(0) AS carted_at, toDateTime(0) AS purchased_at
    FROM (
        SELECT site, run_id, vh, score, events, last_time,
            arrayJoin(arrayMap(i -> arrayStringConcat(arraySlice(parts, 1, i), ' > '), arrayEnumerate(splitByString(' > ', category) AS parts))) AS prefix
        FROM seg_interests
        WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site) AND category != ''
    ) AS lines
    GROUP BY site, run_id, vh, prefix
    UNION ALL
    SELECT site, run_id, vh, 'product' AS kind, product_id AS key, category, toUInt8(0) AS depth,
        score, events, last_time, stage, viewed_at, carted_at, purchased_at
    FROM (
        SELECT site, run_id, vh, ph, category, score, events, last_time, stage, viewed_at, carted_at, purchased_at
        FROM seg_interests
        WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site) AND ph != 0
    ) AS interests ANY LEFT JOIN (
        SELECT site, run_id, ph, product_id FROM seg_products
        WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site)
    ) AS products USING (site, run_id, ph)
) AS rows ALL INNER JOIN (
    SELECT site, run_id, vh, visitor_id FROM seg_profiles
    WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site)
) AS profiles USING (site, run_id, vh);
