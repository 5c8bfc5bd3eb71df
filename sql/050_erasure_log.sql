-- Audit trail of erasure requests (package privacy): who asked, when, what
-- kind of subject, which tables were cleaned and how many visitor ids it
-- covered. The subject is stored only as a SHA-256 of site and id, so the
-- log proves an erasure happened without keeping the person's id.
CREATE TABLE IF NOT EXISTS erasure_log (
    site String,
    erasure_id UUID,
    requested_at DateTime,
    finished_at DateTime,
    requested_by String,
    subject_kind String,
    subject_sha256 String,
    visitors UInt32,
    tables Array(String),
    status String,
    error String
) ENGINE = MergeTree()
ORDER BY (site, requested_at, erasure_id);
