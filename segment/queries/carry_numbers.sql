-- An incremental run's product numbers: the previous run's (its catalog
-- products, 05_products), not numbered afresh. The carried baskets and
-- product lines hold those numbers, and the run only builds on a
-- previous run with the same products (fullReason); a product added
-- while the run computes waits for the next run, as with 01_numbers.
INSERT INTO seg_numbers (site, run_id, ph, idx)
SELECT @site, @run, ph, idx
FROM seg_products
WHERE site = @site AND run_id = @prev AND known = 1
