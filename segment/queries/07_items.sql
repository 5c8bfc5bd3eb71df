-- Per product, for one kind (@kind), from one read of the co-occurrence
-- counts (07_pairs): the baskets holding it (the diagonal; product 0:
-- all baskets) and its partners that @min_pair or more baskets share.
-- The scoring of every kind reads these few rows instead of the pairs.
INSERT INTO seg_pair_items (site, run_id, kind, idx, baskets, strong)
SELECT @site, @run, @kind, idx, sumIf(k11, diagonal), countIf(NOT diagonal)
FROM (
    SELECT arrayJoin(multiIf(x = y, [x], k11 >= @min_pair, [x, y], emptyArrayUInt32())) AS idx, k11, x = y AS diagonal
    FROM seg_pairs WHERE site = @site AND run_id = @run AND kind = @kind
)
GROUP BY idx
