-- Analysts' stable views of segments. Each shows the site's current
-- complete run (the seg_current pointer) unless it says otherwise, so a
-- query never mixes a half-written run with a finished one. Columns may be
-- added, never removed or renamed.
--
-- Runs, newest state of each; is_current marks the run readers see.
CREATE VIEW IF NOT EXISTS v_segment_runs AS
SELECT site, run_id, started_at, finished_at, status, error,
    toUInt8((site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site)) AS is_current,
    as_of, audiences
FROM (
    SELECT site, run_id,
        argMax(started_at, updated) AS started_at,
        argMax(finished_at, updated) AS finished_at,
        argMax(status, updated) AS status,
        argMax(error, updated) AS error,
        argMax(as_of, updated) AS as_of,
        argMax(audiences, updated) AS audiences
    FROM seg_runs
    GROUP BY site, run_id
);
-- Audience sizes of every successful run: the history.
CREATE VIEW IF NOT EXISTS v_audience_sizes AS
SELECT site, audience, run_id, run_time, size FROM seg_audience_sizes;
-- Members of each audience in the current run. Bots and opted-out
-- visitors are never members, so opted_out is always 0.
CREATE VIEW IF NOT EXISTS v_audience_members AS
SELECT site, audience, run_id, visitor_id, user_id, email_sha256, stage,
    customer_type, trigger_time, toUInt8(0) AS opted_out
FROM seg_members
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site);
-- Each audience's ranked product list in the current run (what feeds show).
CREATE VIEW IF NOT EXISTS v_audience_products AS
SELECT site, audience, run_id, product_id, anchor_id, strategy, reason,
    motivation, score, rank, members
FROM seg_audience_products
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site);
-- Each member's ranked recommendations in the current run.
CREATE VIEW IF NOT EXISTS v_visitor_recommendations AS
SELECT site, run_id, audience, visitor_id, product_id, anchor_id, strategy,
    reason, motivation, score, rank
FROM seg_recommendations
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site);
-- Interests of the current run: kind 'category' rows have one row per
-- prefix level of the path (depth 1 = top level); kind 'product' rows carry
-- the intent stage and its timestamps. key is the category path or the
-- product id.
CREATE VIEW IF NOT EXISTS v_visitor_interests AS
SELECT site, run_id, visitor_id, 'category' AS kind, category AS key, category,
    depth, score, events, last_time, '' AS stage,
    toDateTime(0) AS viewed_at, toDateTime(0) AS carted_at, toDateTime(0) AS purchased_at
FROM seg_category_interests
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site)
UNION ALL
SELECT site, run_id, visitor_id, 'product' AS kind, product_id AS key, category,
    toUInt8(0) AS depth, score, events, last_time, stage,
    viewed_at, carted_at, purchased_at
FROM seg_product_interests
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site);
-- Per-visitor traits of the current run: identity, inferred customer type
-- (customer_type_source 'trait' or 'inferred'), price band.
CREATE VIEW IF NOT EXISTS v_visitor_profiles AS
SELECT site, run_id, visitor_id, user_id, email_sha256, customer_type,
    customer_type_source, price_band, avg_price, opted_out, first_seen, last_seen, events
FROM seg_profiles
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site);
-- Related products of the current run: rank from 1 per product and kind
-- (co_view, co_purchase, declared, category_fallback); strategy says how
-- the related product is offered (upsell or cross_sell).
CREATE VIEW IF NOT EXISTS v_related_products AS
SELECT site, product_id, related_id, kind, score, rank, run_id, strategy, together, reason, motivation
FROM seg_related
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site);
