-- erasure_log names subjects by a keyed hash (HMAC-SHA256 with the
-- config's erasure_key, or a key derived from the site's admin token)
-- instead of a plain SHA-256, which was reversible for guessable ids.
-- subject_key says which key made a row's subject_sha256, by name and
-- fingerprint ("erasure_key:1a2b3c4d"); rows written before have ''
-- (plain SHA-256 of site and id).
ALTER TABLE erasure_log ADD COLUMN IF NOT EXISTS subject_key String;
