-- Number the catalog's products 1..n in product id order for this run
-- (idx, below 2³¹: the profiles pass packs it under a flag bit). Baskets
-- hold these numbers and a co-occurrence pair packs two of
-- them into one UInt64; 05_products keeps the same numbers, so a product
-- added to the catalog while the run computes waits for the next run.
INSERT INTO seg_numbers (site, run_id, ph, idx)
SELECT @site, @run, ph, toUInt32(rowNumberInAllBlocks() + 1)
FROM (
    SELECT cityHash64(product_id) AS ph FROM v_products WHERE site = @site AND product_id != ''
    ORDER BY product_id
)
