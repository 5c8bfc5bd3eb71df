-- The ids of erasures in progress (internal/erasures): one partition per
-- erasure, holding the visitor id, or the user id and the visitor ids
-- seen with it, and once its deletions have finished a row with done_at
-- set. An erasure's deletions read its ids from here (ALTER TABLE …
-- DELETE WHERE visitor_id IN (SELECT … WHERE erasure_id = …)), so no id
-- is ever part of a statement's text, which ClickHouse keeps in
-- system.mutations and its logs; a segment run re-applies the erasures
-- that overlapped it from here before it switches. A partition is
-- dropped as soon as neither needs it.
CREATE TABLE IF NOT EXISTS erasure_subjects (
    erasure_id String,
    site String,
    requested_at DateTime,
    visitor_id String,
    user_id String,
    done_at DateTime
) ENGINE = MergeTree()
PARTITION BY erasure_id
ORDER BY (site, visitor_id);
