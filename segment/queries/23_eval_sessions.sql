-- Next-item evaluation, held-out sessions: a visitor's product lines
-- (views, carts, checkouts, purchases) split into sessions at pauses
-- longer than @gap seconds; every session that ends at or after @cut is
-- held out: its lines are written here, and the run that trains the
-- evaluated model leaves them out (seg_eval_holdout). Sessions end in
-- time order, so the held-out ones are those from the session of the
-- visitor's first line at or after @cut on. Lines sort by time, then
-- product hash (one second holds several).
INSERT INTO seg_eval_sessions (site, run_id, vh, event_time, ph, view)
SELECT @site, @run, vh, toDateTime(l.1), l.2, l.3
FROM (
    SELECT vh,
        arraySort(groupArray((toUInt32(event_time), ph, toUInt8(type = 'product_view')))) AS ls,
        arrayMap(x -> x.1, ls) AS ts,
        arrayCumSum(arrayMap((t, i) -> toUInt32(i > 1 AND t > ts[i - 1] + @gap), ts, arrayEnumerate(ts))) AS session,
        arrayFirstIndex(t -> t >= @cut, ts) AS first_late,
        arrayFilter((x, s) -> s >= session[first_late], ls, session) AS held
    FROM (
/*LINES*/
    )
    WHERE ph != 0 AND type IN ('product_view', 'add_to_cart', 'checkout', 'purchase')
    GROUP BY vh
    HAVING max(event_time) >= toDateTime(@cut)
) ARRAY JOIN held AS l
