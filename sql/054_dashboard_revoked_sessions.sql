-- Dashboard sessions ended by signing out (package dashboard). A session
-- cookie is signed and carries its own expiry, so any serve instance can
-- check it without a lookup; signing out records the session here (a
-- SHA-256 of its nonce, never the cookie), and every instance refuses it
-- until it would have expired anyway. Rows are useless after expires_at;
-- old months are dropped on sign-out.
CREATE TABLE IF NOT EXISTS dashboard_revoked_sessions (
    site String,
    session String,
    revoked_at DateTime,
    expires_at DateTime
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(expires_at)
ORDER BY (site, session);
