-- Visitors opted out at the run's time. A browser (visitor id) is opted
-- out when its latest non-bot event says opted_out = 1 (a later consenting
-- event opts it back in; a tie within one second counts as opted out: the
-- flag is the low bit of the key). Opt-out follows the person: a user id
-- is opted out when a browser seen with it is, or when its latest event
-- sent without a visitor id (a server-side call with only a userId) says
-- so; then every visitor id seen with that user id is opted out too, so
-- GPC or consent=false on one device stops the person's other devices.
-- Only visitors with an opted-out event, or linked to one, can be, and a
-- re-sent event repeats its flag, so events are read without FINAL.
-- Every subquery is GLOBAL: on a cluster a person's visitor ids live on
-- several shards, so each set is read across them, once, where the query
-- runs (a plain IN would read each shard's own rows, and 18.16 refuses a
-- Distributed table in a subquery of a query over one). On one node
-- GLOBAL IN is IN.
INSERT INTO seg_opted_out (site, run_id, vh, visitor_id, last_seen)
SELECT @site, @run, cityHash64(visitor_id) AS vh, any(visitor_id), max(event_time)
FROM events
WHERE site = @site AND is_bot = 0 AND event_time <= toDateTime(@now) AND visitor_id != ''
    AND (visitor_id GLOBAL IN (/*OPTED_OUT_BROWSERS*/)
        -- the person: every visitor id seen with an opted-out user id
        OR visitor_id GLOBAL IN (
            SELECT visitor_id FROM events
            WHERE site = @site AND is_bot = 0 AND event_time <= toDateTime(@now) AND visitor_id != ''
                AND user_id GLOBAL IN (
                    -- user ids seen with an opted-out browser
                    SELECT user_id FROM events
                    WHERE site = @site AND is_bot = 0 AND event_time <= toDateTime(@now) AND user_id != ''
                        AND visitor_id GLOBAL IN (/*OPTED_OUT_BROWSERS*/)
                    UNION ALL
                    -- user ids whose latest event without a visitor id opted out
                    SELECT user_id FROM (
                        SELECT user_id, max(toUInt64(event_time) * 2 + opted_out) AS k
                        FROM events
                        WHERE site = @site AND is_bot = 0 AND event_time <= toDateTime(@now) AND visitor_id = ''
                            AND user_id GLOBAL IN (
                                SELECT user_id FROM events
                                WHERE site = @site AND is_bot = 0 AND opted_out = 1 AND visitor_id = '' AND user_id != '' AND event_time <= toDateTime(@now)
                            )
                        GROUP BY user_id
                    )
                    WHERE k % 2 = 1
                )
        ))
GROUP BY vh
