-- Every kept run's audience lists and members (the current run and the
-- ones before it that segments.keep_runs keeps), for reads pinned to one
-- run by run_id. v_audience_products and v_audience_members show only the
-- current run, so a feed or a member export that had read the current run
-- just before a switch found nothing under its run id, and served an
-- empty feed. Same columns as those two views.
CREATE VIEW IF NOT EXISTS v_audience_products_by_run AS
SELECT site, audience, run_id, product_id, anchor_id, strategy, reason,
    motivation, score, rank, members
FROM seg_audience_products;
CREATE VIEW IF NOT EXISTS v_audience_members_by_run AS
SELECT site, audience, run_id, visitor_id, user_id, email_sha256, stage,
    customer_type, trigger_time, toUInt8(0) AS opted_out, grp
FROM seg_members;
