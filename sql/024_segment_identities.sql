-- Each visitor's latest identity (user id, identify traits) for a run,
-- read apart from the profiles pass: latest values are the same with or
-- without duplicate events, so they are read without FINAL and only from
-- the few events that carry them, instead of keeping four string states
-- for every visitor in the pass that must read FINAL. visitor_id is kept
-- so that an erasure finds these rows like any other person table's.
CREATE TABLE IF NOT EXISTS seg_identities (
    site String,
    run_id String,
    vh UInt64,
    visitor_id String,
    user_id String,
    email String,
    customer_type String,
    b2b UInt8,
    traits String
) ENGINE = MergeTree()
PARTITION BY run_id
ORDER BY tuple();
