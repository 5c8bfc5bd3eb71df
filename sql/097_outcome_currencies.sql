-- The currencies of the orders and redemptions an outcome row sums
-- (sorted; orders that name none left out): revenue of two currencies
-- cannot be added up, and the lift report says so instead of comparing
-- it. Rows of runs before this migration name none.
ALTER TABLE seg_outcomes ADD COLUMN IF NOT EXISTS currencies Array(String);
-- Outcomes of the current run. Columns may be added, never removed.
DROP TABLE IF EXISTS v_audience_outcomes;
CREATE VIEW IF NOT EXISTS v_audience_outcomes AS
SELECT site, audience, day_joined, grp, members, converters, revenue, discount_cost,
    orders, revenue_sq, redemptions, complete, run_id, currencies
FROM seg_outcomes
WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM seg_current GROUP BY site);
