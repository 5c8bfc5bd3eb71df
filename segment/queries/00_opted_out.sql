-- Visitors opted out at the run's time: their latest non-bot event says
-- opted_out = 1 (a later consenting event opts them back in; a tie within
-- one second counts as opted out: the flag is the low bit of the key).
-- Only visitors with an opted-out event can be, and a re-sent event
-- repeats its flag, so events are read without FINAL.
INSERT INTO seg_opted_out (site, run_id, vh, visitor_id, last_seen)
SELECT @site, @run, vh, vid, toDateTime(intDiv(k, 2))
FROM (
    SELECT cityHash64(visitor_id) AS vh, any(visitor_id) AS vid, max(toUInt64(event_time) * 2 + opted_out) AS k
    FROM events
    WHERE site = @site AND is_bot = 0 AND event_time <= toDateTime(@now)
        AND visitor_id IN (
            SELECT visitor_id FROM events
            WHERE site = @site AND is_bot = 0 AND opted_out = 1 AND visitor_id != '' AND event_time <= toDateTime(@now)
        )
    GROUP BY vh
)
WHERE k % 2 = 1
