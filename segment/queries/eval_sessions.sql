-- (Fragment, not a step.) The sessions the evaluated model learned
-- from, for the baselines of a next-item evaluation: each visitor's
-- product lines (without the held-out ones) split at pauses
-- longer than @gap seconds, one row per session with its products.
SELECT groupUniqArray(s.2) AS products
FROM (
    SELECT vh,
        arraySort(groupArray((toUInt32(event_time), ph))) AS ls,
        arrayMap(x -> x.1, ls) AS ts,
        arrayMap((x, s) -> (s, x.2), ls,
            arrayCumSum(arrayMap((t, i) -> toUInt32(i > 1 AND t > ts[i - 1] + @gap), ts, arrayEnumerate(ts)))) AS sessions
    FROM (
/*LINES*/
    )
    WHERE ph != 0 AND type IN ('product_view', 'add_to_cart', 'checkout', 'purchase')
    GROUP BY vh
) ARRAY JOIN sessions AS s
GROUP BY vh, s.1
