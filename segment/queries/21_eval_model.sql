-- Model metrics: each held-out product's rank in the visitor's list
-- (0 = not in the top @k); NDCG@k with one relevant item is 1/log2(rank+1).
SELECT count() AS visitors,
    countIf(rank > 0 AND rank <= @k) AS hits,
    sumIf(1 / log2(rank + 1), rank > 0 AND rank <= @k) AS dcg
FROM (
    SELECT vh, ph FROM seg_eval_holdout WHERE site = @site AND run_id = @run
) AS held_out ANY LEFT JOIN (
    SELECT vh, cityHash64(product_id) AS ph, rank FROM seg_recommendations
    WHERE site = @site AND run_id = @run AND startsWith(audience, '_eval_')
) AS recommended USING (vh, ph)
