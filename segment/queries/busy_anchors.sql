-- (Fragment, not a step.) The products with at least @topk partners,
-- of all kinds together, that @min_pair or more baskets share (07_items).
SELECT idx FROM seg_pair_items
WHERE site = @site AND run_id = @run AND idx != 0
GROUP BY idx HAVING sum(strong) >= @topk
