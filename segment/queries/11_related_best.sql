-- The policy's input: each anchor's first @max_items upsells and
-- cross-sells, marked best by 11_related, with their strategy (prio 1
-- upsell, 2 cross-sell) and score, for 12_recommendations. A plain copy
-- of few rows per anchor (seg_related's own columns, so every server
-- and a cluster, where a Null table has nowhere to go, do it alike).
INSERT INTO seg_related_best (site, run_id, ph, related_ph, prio, score)
SELECT site, run_id, ph, related_ph, prio, best_score
FROM seg_related
WHERE site = @site AND run_id = @run AND best = 1
