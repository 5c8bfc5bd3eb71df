-- Each product's currency in a run's catalog snapshot: the price rules
-- compare an anchor's price only with prices in its own currency (a
-- 600 EUR body is no upsell of a 500 USD one). Rows of runs before this
-- migration have none; the next run writes it.
ALTER TABLE seg_products ADD COLUMN IF NOT EXISTS currency String;
