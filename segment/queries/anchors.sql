-- (Fragment, not a step.) Each member's anchors for 12_recommendations,
-- at most 3: the products /*ANCHOR_WHERE*/ picks, highest /*ANCHOR_KEY*/
-- first, ties by product hash, weighted by their interest score; each row
-- carries the products the member's person bought. One read of the
-- members' interests gives both (a second read for the purchases and a
-- sort of every member's rows cost 0.3 s more of CPU for the benchmark's
-- largest audience). /*SELF*/ is empty, or a condition that skips the read.
-- A user's devices are one person: a member with a user id also never
-- gets what the other visitors with that user id (seg_profiles) bought.
-- Only the purchases of members' users' devices are read. On
-- a cluster this step runs per shard and sees the devices on its shard.
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
        SELECT vh, groupUniqArray(ph) AS person_bought
        FROM (
            SELECT vh, user_id FROM seg_profiles
            WHERE /*SELF*/ site = @site AND run_id = @run AND user_id != ''
                AND vh IN (SELECT cityHash64(visitor_id) FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience)
        ) AS members ALL INNER JOIN (
            SELECT user_id, ph
            FROM (
                SELECT vh, ph FROM seg_interests
                WHERE site = @site AND run_id = @run AND ph != 0 AND purchased_at > toDateTime(0)
                    AND vh IN (SELECT vh FROM seg_profiles WHERE site = @site AND run_id = @run AND user_id IN (
                        SELECT user_id FROM seg_profiles
                        WHERE site = @site AND run_id = @run AND user_id != ''
                            AND vh IN (SELECT cityHash64(visitor_id) FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience)))
            ) AS purchases ALL INNER JOIN (
                SELECT vh, user_id FROM seg_profiles
                WHERE site = @site AND run_id = @run AND user_id IN (
                    SELECT user_id FROM seg_profiles
                    WHERE site = @site AND run_id = @run AND user_id != ''
                        AND vh IN (SELECT cityHash64(visitor_id) FROM seg_members WHERE site = @site AND run_id = @run AND audience = @audience))
            ) AS devices USING vh
        ) AS person_purchases USING user_id
        GROUP BY vh
    ) AS person USING vh
) ARRAY JOIN top_ph AS aph, top_w AS weight
