-- (Fragment, not a step.) Each member's anchors for 12_recommendations,
-- at most 3: the products /*ANCHOR_WHERE*/ picks, highest /*ANCHOR_KEY*/
-- first, ties by product hash, weighted by their interest score; each row
-- carries the products the member's person bought. One read of the
-- members' interests gives both (a second read for the purchases and a
-- sort of every member's rows cost 0.3 s more of CPU for the benchmark's
-- largest audience). /*SELF*/ is empty, or a condition that skips the read.
-- A user's devices are one person: a member also never gets what the
-- other visitor ids of their user bought (seg_person_bought, by
-- 06_person_bought; on a cluster the member's shard holds it).
SELECT vh, aph, weight, bought
FROM (
    SELECT vh, top_ph, top_w, arrayConcat(own_bought, person_bought) AS bought
    FROM (
        SELECT vh,
            groupArrayIf(ph, purchased_at > toDateTime(0)) AS own_bought,
            groupArrayIf(ph, /*ANCHOR_WHERE*/) AS a_ph,
            groupArrayIf(toFloat64(/*ANCHOR_KEY*/), /*ANCHOR_WHERE*/) AS a_key,
            groupArrayIf(score + 1e-9, /*ANCHOR_WHERE*/) AS a_w,
            arraySlice(arraySort((x, k, h) -> (-k, h), a_ph, a_key, a_ph), 1, 3) AS top_ph,
            arraySlice(arraySort((x, k, h) -> (-k, h), a_w, a_key, a_ph), 1, 3) AS top_w
        FROM seg_interests
        WHERE /*SELF*/ site = @site AND run_id = @run AND ph != 0
            AND vh IN (SELECT cityHash64(visitor_id) FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience)
        GROUP BY vh
    ) AS own ANY LEFT JOIN (
        SELECT vh, bought AS person_bought FROM seg_person_bought
        WHERE /*SELF*/ site = @site AND run_id = @run
            AND vh IN (SELECT cityHash64(visitor_id) FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience)
    ) AS person USING vh
) ARRAY JOIN top_ph AS aph, top_w AS weight
