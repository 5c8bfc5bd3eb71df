-- (Fragment, not a step.) Each person's first join of each of the run's
-- audiences by the run's time, with the audience's attribution window in
-- seconds. Of two rows of a person (two runs raced), the earliest wins.
SELECT audience, person, min(t) AS joined_at, argMin(g, (t, g)) AS grp, max(w) AS window_s
FROM (
    SELECT audience, person, joined_at AS t, grp AS g, @windows[indexOf(@audiences, audience)] AS w
    FROM seg_member_joins
    WHERE site = @site AND has(@audiences, audience) AND joined_at <= toDateTime(@now)
)
GROUP BY audience, person
