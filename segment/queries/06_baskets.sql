-- Each visitor's basket for one co-occurrence kind: co_view = products
-- viewed, co_purchase = products carted or bought. Only the @cap most
-- recent products of a visitor count, which bounds the pairs one visitor
-- can produce to cap × (cap − 1). /*BASKET*/ and /*BASKET_TIME*/ come from
-- a fixed list in the code.
INSERT INTO seg_baskets (site, run_id, kind, visitor_id, product_id, category)
SELECT @site, @run, @kind, visitor_id, product_id, category
FROM seg_product_interests
WHERE site = @site AND run_id = @run AND /*BASKET*/
ORDER BY visitor_id, /*BASKET_TIME*/ DESC, product_id
LIMIT @cap BY visitor_id
