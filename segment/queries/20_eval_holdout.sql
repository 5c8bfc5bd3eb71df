-- Leave-last-out: for every visitor with at least two distinct products
-- among their product views, carts and purchases, hold out the last such
-- interaction (latest time; ties broken by the product's hash). @all_run
-- is a run whose interests hold everything.
INSERT INTO seg_eval_holdout (site, run_id, vh, ph, event_time)
SELECT @site, @run, vh, last.2, toDateTime(last.1)
FROM (
    SELECT vh, argMax((t, ph), (t, ph)) AS last, count() AS products
    FROM (
        SELECT vh, ph, toUInt32(greatest(viewed_at, greatest(carted_at, purchased_at))) AS t
        FROM seg_interests
        WHERE site = @site AND run_id = @all_run AND ph != 0
            AND greatest(viewed_at, greatest(carted_at, purchased_at)) > toDateTime(0)
    )
    GROUP BY vh
    HAVING products >= 2
)
