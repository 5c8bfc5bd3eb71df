-- When each person first joined each audience: the "day joined" of the
-- audience outcomes (v_audience_outcomes). Runs keep members only for
-- segments.keep_runs snapshots; this table keeps the first join for ever.
-- person is "u:" + user id when known, else "v:" + visitor id (a user's
-- devices are one person); grp is the group the person was in when they
-- joined; joined_at is the as-of time of the first run that found them a
-- member. A run writes only persons not yet recorded; two runs racing may
-- both write one, so readers take each person's earliest row.
CREATE TABLE IF NOT EXISTS seg_member_joins (
    site String,
    audience String,
    person String,
    visitor_id String,
    user_id String,
    grp String,
    joined_at DateTime,
    run_id String
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(joined_at)
ORDER BY (site, audience, person);
