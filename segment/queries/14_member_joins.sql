-- The audience's persons (PersonKey: the user id when known, else the
-- visitor id) not yet recorded in seg_member_joins join it now, at the
-- run's as-of time, with their group. A person with several devices in
-- the audience is one row: the lowest visitor id stands for them (their
-- user id and group are the same on every device). GLOBAL: on a cluster
-- both tables are Distributed, and a person's devices may be on several
-- shards (on one node GLOBAL NOT IN is NOT IN). The persons already
-- recorded are looked up among the members only, by the table's key:
-- everyone who ever joined would make the set grow with history.
INSERT INTO seg_member_joins (site, audience, person, visitor_id, user_id, grp, joined_at, run_id)
SELECT @site, @audience, person, min(visitor_id), min(user_id), min(grp), toDateTime(@now), @run
FROM (
    SELECT if(user_id != '', concat('u:', user_id), concat('v:', visitor_id)) AS person, visitor_id, user_id, grp
    FROM seg_members
    WHERE site = @site AND run_id = @run AND audience = @audience
)
WHERE person GLOBAL NOT IN (
    SELECT person FROM seg_member_joins
    WHERE site = @site AND audience = @audience
        AND person GLOBAL IN (
            SELECT if(user_id != '', concat('u:', user_id), concat('v:', visitor_id))
            FROM seg_members
            WHERE site = @site AND run_id = @run AND audience = @audience))
GROUP BY person
