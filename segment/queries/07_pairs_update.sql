-- An incremental run's co-occurrence counts of one kind (@kind), updated
-- rather than counted again (07_pairs counts them from every basket):
-- the previous run's sums, minus what the recomputed visitors' baskets
-- added to them then, plus what their baskets add now. The other
-- visitors' baskets are the previous run's (carry_profiles), so the sums
-- are those 07_pairs would write, pair for pair, and a pair no basket
-- holds any more is left out, as 07_pairs leaves it out. The code runs
-- 07_pairs instead when an erasure may have taken baskets out of the
-- previous run's rows but not out of its sums (incremental.go). Every
-- branch has the same types: 18.16's UNION ALL does not unify them. In
-- @parts parts by x (this is part @part), one per core.
-- When the catalog's products changed since the previous run, its sums
-- and baskets hold its product numbers: X and Y are those of this run
-- (renumber.sql, incremental.go), and a pair of a product no longer in
-- the catalog is dropped (KEPT) as its baskets are recomputed without it
-- (00_affected). Otherwise they are x, y and nothing.
INSERT INTO seg_pairs (site, run_id, kind, x, y, k11, w)
SELECT @site, @run, @kind, toUInt32(intDiv(pair, 4294967296)), toUInt32(pair % 4294967296), toUInt64(sum(n)), toUInt64(sum(s))
FROM (
    SELECT bitOr(bitShiftLeft(toUInt64(/*X*/), 32), toUInt64(/*Y*/)) AS pair, toInt64(k11) AS n, toInt64(w) AS s
    FROM seg_pairs
    WHERE site = @site AND run_id = @prev AND kind = @kind AND /*X*/ % @parts = @part /*KEPT*/
    UNION ALL
    SELECT pair, sign AS n, sign * toInt64(weight) AS s
    FROM (/*BASKET_PAIRS*/)
    UNION ALL
    SELECT bitOr(bitShiftLeft(toUInt64(x), 32), toUInt64(x)) AS pair, sign AS n, toInt64(0) AS s
    FROM (SELECT arrayJoin(basket) AS x, sign FROM (/*CHANGED_BASKETS*/))
    WHERE x % @parts = @part AND x != 0
    UNION ALL
    SELECT toUInt64(0) AS pair, sign AS n, toInt64(0) AS s
    FROM (/*CHANGED_BASKETS*/)
    WHERE notEmpty(basket) AND @part = 0
)
GROUP BY pair
HAVING sum(n) > 0
