-- Every audience member is in a group: treatment (may be exported and
-- targeted) or holdout (computed like everyone else, never leaves
-- remarket: the control group of the audience's outcomes). Rows of runs
-- before this migration are treatment, which is what they were.
ALTER TABLE seg_members ADD COLUMN IF NOT EXISTS grp String DEFAULT 'treatment';
-- Members of each audience in the current run. Bots and opted-out
-- visitors are never members, so opted_out is always 0. grp is treatment
-- or holdout (never exported nor targeted). Columns may only be added.
DROP TABLE IF EXISTS v_audience_members;
CREATE VIEW IF NOT EXISTS v_audience_members AS
SELECT site, audience, run_id, visitor_id, user_id, email_sha256, stage,
    customer_type, trigger_time, toUInt8(0) AS opted_out, grp
FROM seg_members
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site);
