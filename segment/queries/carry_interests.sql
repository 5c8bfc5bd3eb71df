-- An incremental run's interests of the visitors it did not recompute:
-- the previous run's rows, their scores decayed from its as-of time to
-- this one's. A score is a sum of weights each decayed by
-- 2^(-age / half-life), so decaying the sum by the time between the runs
-- decays every term by it: the score a full run computes (up to the
-- rounding of doubles), without reading the visitor's events.
INSERT INTO seg_interests (site, run_id, vh, ph, category, score, events, last_time, viewed_at, carted_at, purchased_at, units_bought, stage)
SELECT site, @run, vh, ph, category,
    score * exp(-0.6931471805599453 * (@now - @prev_now) / (86400. * @half_life_days)),
    events, last_time, viewed_at, carted_at, purchased_at, units_bought, stage
FROM seg_interests
WHERE site = @site AND run_id = @prev
    AND vh NOT IN (SELECT vh FROM seg_affected WHERE site = @site AND run_id = @run)
