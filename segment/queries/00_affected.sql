-- The visitors an incremental run recomputes from their events; every
-- other visitor's state is copied from the previous run (carry_*.sql).
-- A visitor is affected when anything its state is computed from may
-- have changed since the previous run (@prev, as of @prev_now):
--   - events stored since the previous run read them: new, late (old
--     event times) and re-sent ones alike, by insert time, from the
--     previous run's start less a margin (@inc_since), so an insert still
--     being written when that run read is not missed;
--   - events whose time the as-of time has passed (sent with a time after
--     the previous run's as-of time);
--   - events on the edge of an audience's event window (the code adds a
--     clause per window: a line that entered or left "within N days" or
--     "more than N days ago" between the two as-of times);
--   - opt-out: every visitor opted out now but not then (its state is
--     dropped) or then but not now (rebuilt). One opted out in both runs
--     has no state but the profile row 04_opted_out_profiles writes
--     afresh, so it is left out: the shop's opted-out visitors would
--     otherwise be recomputed by every run;
--   - erasures still in progress (their events may be half deleted);
--   - products added to or removed from the catalog, or whose category
--     or price changed (catalogReason), and unknown ones
--     (01_unknown_products) whose category did, which names the
--     visitors' interests in them. Their visitors are those with an
--     interest row for the product: every line with a product gives one.
--     An unknown product's price is -1 on both sides, so one that joins
--     or leaves the catalog changes, whatever its category and price.
-- A superset is harmless (those visitors are recomputed exactly); a
-- visitor left out would keep stale state, so each reason errs wide.
-- Rows carry the visitor id too: the passes select the visitors' events
-- by it (lines.sql).
INSERT INTO seg_affected (site, run_id, vh, visitor_id)
SELECT @site, @run, vh, visitor_id
FROM (
    SELECT cityHash64(visitor_id) AS vh, visitor_id
    FROM events
    WHERE site = @site AND visitor_id != ''
        AND (inserted_at >= toDateTime(@inc_since)
            OR (event_time > toDateTime(@prev_now) AND event_time <= toDateTime(@now))
            /*WINDOWS*/)
    UNION ALL
    SELECT vh, visitor_id FROM seg_opted_out
    WHERE site = @site AND run_id = @run
        AND vh NOT IN (SELECT vh FROM seg_profiles WHERE site = @site AND run_id = @prev AND opted_out = 1)
    UNION ALL
    SELECT vh, visitor_id FROM seg_profiles
    WHERE site = @site AND run_id = @prev AND opted_out = 1
        AND vh NOT IN (SELECT vh FROM seg_opted_out WHERE site = @site AND run_id = @run)
    UNION ALL
    SELECT cityHash64(visitor_id) AS vh, visitor_id FROM erasure_subjects WHERE site = @site AND visitor_id != ''
    UNION ALL
    SELECT vh, visitor_id FROM seg_profiles
    WHERE site = @site AND run_id = @prev AND vh IN (SELECT vh FROM seg_interests WHERE site = @site AND run_id = @prev AND ph IN (
        SELECT ph FROM (
            SELECT ph, category, toFloat64(-1) AS price FROM seg_products WHERE site = @site AND run_id = @run AND known = 0
            UNION ALL
            SELECT cityHash64(product_id) AS ph, category, price FROM v_products WHERE site = @site AND product_id != ''
            UNION ALL
            SELECT ph, category, if(known = 1, price, toFloat64(-1)) AS price FROM seg_products WHERE site = @site AND run_id = @prev
        )
        GROUP BY ph, category, price
        HAVING count() = 1
    ))
)
GROUP BY vh, visitor_id
