-- (Fragment, not a step.) Each human's first join of each of the run's
-- audiences by the run's time, with the audience's attribution window in
-- seconds. seg_member_joins names a person by their user id when the run
-- that recorded them knew one, else by their visitor id: a visitor who
-- joined anonymously ("v:" key) and signed in later joined again as their
-- user ("u:"), perhaps in the other group. So a "v:" row whose visitor
-- has a user id in this run's profiles is that user's: the human is
-- counted once, from their earliest row and in its group (the group of
-- the first join, as in an intention-to-treat comparison). Of two rows of
-- one time (two runs raced, or one run found the user and the visitor
-- before it knew they were one), the lower group wins. Outcome facts name
-- their person the same way (15_outcomes.sql).
SELECT audience, person, min(t) AS joined_at, argMin(g, (t, g)) AS grp, max(w) AS window_s
FROM (
    SELECT audience, if(j_person LIKE 'v:%' AND uid != '', concat('u:', uid), j_person) AS person, t, g, w
    FROM (
        SELECT audience, person AS j_person, cityHash64(visitor_id) AS vh, joined_at AS t, grp AS g,
            @windows[indexOf(@audiences, audience)] AS w
        FROM seg_member_joins
        WHERE site = @site AND has(@audiences, audience) AND joined_at <= toDateTime(@now)
    ) AS recorded ANY LEFT JOIN (
        SELECT vh, user_id AS uid FROM seg_profiles
        WHERE site = @site AND run_id = @run AND user_id != ''
    ) AS identities USING vh
)
GROUP BY audience, person
