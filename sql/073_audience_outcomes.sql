-- Audience outcomes (docs/analytics.md, "Outcomes and lift"): per run,
-- audience, day joined and group (treatment or holdout), the persons who
-- joined that day, how many bought within the audience's attribution
-- window after joining, their orders and revenue (revenue_sq: the sum of
-- each person's revenue squared, for intervals), the offers of the
-- audience they redeemed and the discount given away. complete = 1 once
-- every window of the day has ended. A run's rows go with the run (like
-- the other snapshot tables); each run recomputes every day from the
-- durable joins (seg_member_joins) and the events.
CREATE TABLE IF NOT EXISTS seg_outcomes (
    site String,
    run_id String,
    audience String,
    day_joined Date,
    grp String,
    members UInt64,
    converters UInt64,
    orders UInt64,
    revenue Float64,
    revenue_sq Float64,
    redemptions UInt64,
    discount_cost Float64,
    complete UInt8
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY (site, run_id, audience, day_joined, grp);
-- The outcome totals of every successful run per audience and group,
-- kept for ever (like seg_audience_sizes): lift as each run saw it.
CREATE TABLE IF NOT EXISTS seg_outcome_totals (
    site String,
    run_id String,
    run_time DateTime,
    audience String,
    grp String,
    members UInt64,
    converters UInt64,
    orders UInt64,
    revenue Float64,
    revenue_sq Float64,
    redemptions UInt64,
    discount_cost Float64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(run_time)
ORDER BY (site, audience, run_time, grp);
-- Outcomes of the current run. Columns may be added, never removed.
CREATE VIEW IF NOT EXISTS v_audience_outcomes AS
SELECT site, audience, day_joined, grp, members, converters, revenue, discount_cost,
    orders, revenue_sq, redemptions, complete, run_id
FROM seg_outcomes
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site);
-- Outcome totals of every run: the history. Columns may be added, never removed.
CREATE VIEW IF NOT EXISTS v_audience_outcome_history AS
SELECT site, audience, run_id, run_time, grp, members, converters, revenue, discount_cost,
    orders, revenue_sq, redemptions
FROM seg_outcome_totals;
