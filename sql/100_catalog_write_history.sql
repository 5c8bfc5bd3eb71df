-- What each catalog version holds, so that two writes switching at the
-- same moment from different processes cannot hide one another
-- (internal/catalog, Store.settle). An upsert copies the current version
-- and adds its products; when another write switches between that copy
-- and this one's switch, the version made last lacks the other's
-- products. The writer that finds such a version current folds the
-- writes it lacks into a new version.
--   catalog_products.written: 1 for a row the write itself sent, 0 for
--     a row copied from an earlier version.
--   catalog_versions.whole: 1 for an import, which replaces the whole
--     catalog; 0 for an upsert or a fold. Versions recorded before this
--     migration count as whole: each holds what it holds.
--   catalog_versions.covers: the switch_seq of the version this one was
--     made from; it holds every write recorded up to there.
--   catalog_versions.written: how many products the write itself sent.
ALTER TABLE catalog_products ADD COLUMN IF NOT EXISTS written UInt8 DEFAULT 0;
ALTER TABLE catalog_versions ADD COLUMN IF NOT EXISTS whole UInt8 DEFAULT 1;
ALTER TABLE catalog_versions ADD COLUMN IF NOT EXISTS covers UInt64 DEFAULT 0;
ALTER TABLE catalog_versions ADD COLUMN IF NOT EXISTS written UInt64 DEFAULT 0;
