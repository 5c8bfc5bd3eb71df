-- (Fragment, not a step.) The events (visitor hash, id) that a copy
-- /*COPY_IF*/ matches but whose copy FINAL keeps does not: a client
-- that re-sent an id with other content (FINAL keeps the copy received
-- first). A read that narrows events by PREWHERE /*COPY_IF*/ before
-- FINAL would let such a later copy survive as if it were the event, so
-- it leaves these out. Usually none, and cheap: the ids of the matching
-- copies, then FINAL over only their events' copies (PREWHERE on the id
-- keeps every copy of each).
SELECT cityHash64(visitor_id), event_id
FROM events FINAL
PREWHERE event_id GLOBAL IN (SELECT event_id FROM events PREWHERE /*COPY_IF*/ WHERE site = @site)
WHERE site = @site AND NOT (/*COPY_IF*/)
