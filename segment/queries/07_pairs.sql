-- Co-occurrence counts of one kind (@kind; its baskets are the
-- seg_baskets column the code puts in for the BASKET marker): per pair
-- of products x < y, k11 the baskets holding both and w the sum of
-- their position weights. A basket lists a visitor's products newest
-- first (03_profiles); two products d places apart weigh 1/d, so
-- products looked at one after the other count most (the closeness
-- weighting of session-based kNN, V-SKNN; measured on real sessions in
-- BENCHMARKS.md). Weights are integers (2²⁰ / d, rounded down), so sums
-- are exact and every server ranks ties alike. Every pair is written,
-- however rare: 07_cooccurrence decides which ones an anchor needs.
-- The diagonal holds each product's baskets (x = y, k11), and the pair
-- (0, 0) the number of baskets, so everything the scores need is in
-- one table of sums, which an incremental run updates (07_pairs_update).
-- The pairs come from the basket_pairs fragment. Needs only the baskets,
-- so it runs right after the profiles pass, while interests are still
-- being computed, in @parts parts by x (this is part @part), one per
-- core.
INSERT INTO seg_pairs (site, run_id, kind, x, y, k11, w)
SELECT @site, @run, @kind, toUInt32(intDiv(pair, 4294967296)) AS x, toUInt32(pair % 4294967296) AS y, k11, w
FROM (
    SELECT pair, count() AS k11, sum(weight) AS w
    FROM (/*BASKET_PAIRS*/)
    GROUP BY pair
)
UNION ALL
SELECT @site, @run, @kind, x, x, count(), toUInt64(0)
FROM (
    SELECT arrayJoin(/*BASKET*/) AS x FROM seg_baskets WHERE site = @site AND run_id = @run
)
WHERE x % @parts = @part
GROUP BY x
UNION ALL
SELECT @site, @run, @kind, toUInt32(0), toUInt32(0), count(), toUInt64(0)
FROM seg_baskets
WHERE site = @site AND run_id = @run AND notEmpty(/*BASKET*/) AND @part = 0
GROUP BY run_id
