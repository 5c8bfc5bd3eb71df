-- The months of events remarket retention dropped (privacy/retention.go),
-- each recorded before its drop. A run built on a previous run that read
-- a month since dropped must be full (segment/months.go), and this is how
-- it tells retention from the other ways a month's parts go: on a
-- current ClickHouse an erasure that deletes every event of a month
-- removes the emptied parts, and the events it deleted are recomputed by
-- the next run like any erasure's.
CREATE TABLE IF NOT EXISTS events_dropped_months (
    month UInt32,
    dropped_at DateTime
) ENGINE = MergeTree()
ORDER BY month;
