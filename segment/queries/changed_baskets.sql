-- Fragment of 07_pairs_update: the baskets of the kind's column of the
-- visitors this run recomputed, now (sign 1) and in the previous run
-- (sign -1). On a cluster this reads the Distributed tables; GLOBAL IN
-- sends the visitors to every shard (on one node it is IN). The previous
-- baskets hold the previous run's product numbers: RENUMBERED gives them
-- this run's, 0 in place of a product no longer in the catalog, so the
-- positions, and the pairs' weights, are those the sums were added with.
-- It is applied where the rows are gathered: on a cluster, 18.16 would
-- send its lookup arrays to the shards as query text.
SELECT /*BASKET*/ AS basket, toInt64(1) AS sign
FROM seg_baskets
WHERE site = @site AND run_id = @run AND vh GLOBAL IN (SELECT vh FROM seg_affected WHERE site = @site AND run_id = @run)
UNION ALL
SELECT /*RENUMBERED*/ AS basket, toInt64(-1) AS sign
FROM (
    SELECT /*BASKET*/ AS old_basket
    FROM seg_baskets
    WHERE site = @site AND run_id = @prev AND vh GLOBAL IN (SELECT vh FROM seg_affected WHERE site = @site AND run_id = @run)
)
