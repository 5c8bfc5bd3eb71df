-- The histories of runs show only runs recorded ok, as they always said.
-- A run writes its audience sizes and outcome totals just before its
-- switch, and can still fail after them (its switch did not land, or
-- another process took it for abandoned): its figures then stood in the
-- history as a finished run's, and the lift history, which reads each
-- day's last run, could take them for the day's. Same columns as before.
DROP TABLE IF EXISTS v_audience_sizes;
CREATE VIEW IF NOT EXISTS v_audience_sizes AS
SELECT site, audience, run_id, run_time, size
FROM seg_audience_sizes
WHERE (site, run_id) IN (SELECT site, run_id FROM seg_runs GROUP BY site, run_id HAVING argMax(status, updated) = 'ok');
DROP TABLE IF EXISTS v_audience_outcome_history;
CREATE VIEW IF NOT EXISTS v_audience_outcome_history AS
SELECT site, audience, run_id, run_time, grp, members, converters, revenue, discount_cost,
    orders, revenue_sq, redemptions
FROM seg_outcome_totals
WHERE (site, run_id) IN (SELECT site, run_id FROM seg_runs GROUP BY site, run_id HAVING argMax(status, updated) = 'ok');
