-- (Fragment, not a step.) Each member's anchors for 12_recommendations,
-- at most 3: the products /*ANCHOR_WHERE*/ picks, highest /*ANCHOR_KEY*/
-- first, ties by product hash, weighted by their interest score; each row
-- carries the member's bought products. One read of the members'
-- interests gives both (a second read for the purchases and a sort of
-- every member's rows cost 0.3 s more of CPU for the benchmark's largest
-- audience). /*SELF*/ is empty, or a condition that skips the read.
SELECT vh, aph, weight, bought
FROM (
    SELECT vh,
        groupArrayIf(ph, purchased_at > toDateTime(0)) AS bought,
        groupArrayIf(ph, /*ANCHOR_WHERE*/) AS a_ph,
        groupArrayIf(toFloat64(/*ANCHOR_KEY*/), /*ANCHOR_WHERE*/) AS a_key,
        groupArrayIf(score + 1e-9, /*ANCHOR_WHERE*/) AS a_w,
        arraySlice(arraySort((x, k, h) -> (-k, h), a_ph, a_key, a_ph), 1, 3) AS top_ph,
        arraySlice(arraySort((x, k, h) -> (-k, h), a_w, a_key, a_ph), 1, 3) AS top_w
    FROM seg_interests
    WHERE /*SELF*/ site = @site AND run_id = @run AND ph != 0
        AND vh IN (SELECT cityHash64(visitor_id) FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience)
    GROUP BY vh
) ARRAY JOIN top_ph AS aph, top_w AS weight
