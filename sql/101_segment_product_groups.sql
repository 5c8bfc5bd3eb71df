-- Each product's item_group_id in a run's catalog snapshot: variants of
-- one item (sizes, colours) are viewed together by nearly everyone who
-- looks at the item, so without it they became each other's "related
-- products", and a dearer size an "upgrade". 11_related leaves learned
-- and fallback relations between variants out. Rows of runs before this
-- migration have none; the next run writes it.
ALTER TABLE seg_products ADD COLUMN IF NOT EXISTS item_group_id String;
