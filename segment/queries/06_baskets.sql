-- Each visitor's basket for one co-occurrence kind: co_view = catalog
-- products viewed, co_purchase = carted or bought (/*BASKET*/ and
-- /*BASKET_TIME*/ come from a fixed list in the code). Only the @cap most
-- recent count (ties by idx), which bounds the pairs one visitor can
-- produce to cap × (cap − 1) / 2. Products are their idx, so a pair packs
-- into one UInt64.
INSERT INTO seg_baskets (site, run_id, kind, vh, basket)
SELECT @site, @run, @kind, vh, arraySlice(arraySort((x, t) -> (-t, x), groupArray(idx), groupArray(t)), 1, @cap)
FROM (
    SELECT vh, ph, toInt64(/*BASKET_TIME*/) AS t
    FROM seg_interests
    WHERE site = @site AND run_id = @run AND ph != 0 AND /*BASKET*/
) ANY INNER JOIN (
    SELECT ph, idx FROM seg_products WHERE site = @site AND run_id = @run AND known = 1
) USING ph
GROUP BY vh
