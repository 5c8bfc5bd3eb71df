-- Fragment of 00_opted_out: the visitor ids whose latest non-bot event
-- says opted_out = 1 (the low bit of the key; a tie within one second
-- counts as opted out). GLOBAL: see 00_opted_out.
SELECT visitor_id FROM (
    SELECT visitor_id, max(toUInt64(event_time) * 2 + opted_out) AS k
    FROM events
    WHERE site = @site AND is_bot = 0 AND event_time <= toDateTime(@now)
        AND visitor_id GLOBAL IN (
            SELECT visitor_id FROM events
            WHERE site = @site AND is_bot = 0 AND opted_out = 1 AND visitor_id != '' AND event_time <= toDateTime(@now)
        )
    GROUP BY visitor_id
)
WHERE k % 2 = 1
