-- A user's devices are one person: for each visitor id whose user id
-- (seg_profiles: its latest) other visitor ids share, every product any
-- of them bought (seg_interests), which anchors.sql never recommends to
-- it. Only users seen on several visitor ids have rows. On a cluster
-- this runs on the coordinator over every shard (a user's devices may be
-- on several), the sets read GLOBAL, and each row goes to its visitor's
-- shard, where the per-shard recommendations read it.
INSERT INTO seg_person_bought (site, run_id, vh, bought)
SELECT @site, @run, vh, groupUniqArray(ph)
FROM (
    SELECT vh, user_id FROM seg_profiles
    WHERE site = @site AND run_id = @run AND user_id GLOBAL IN (
        SELECT user_id FROM seg_profiles WHERE site = @site AND run_id = @run AND user_id != ''
        GROUP BY user_id HAVING count() > 1)
) AS devices ALL INNER JOIN (
    SELECT user_id, ph
    FROM (
        SELECT vh, ph FROM seg_interests
        WHERE site = @site AND run_id = @run AND ph != 0 AND purchased_at > toDateTime(0)
    ) AS purchases ALL INNER JOIN (
        SELECT vh, user_id FROM seg_profiles
        WHERE site = @site AND run_id = @run AND user_id GLOBAL IN (
            SELECT user_id FROM seg_profiles WHERE site = @site AND run_id = @run AND user_id != ''
            GROUP BY user_id HAVING count() > 1)
    ) AS buyers USING vh
) AS person_purchases USING user_id
GROUP BY vh
