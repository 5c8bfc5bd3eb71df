-- Fragment of 07_pairs_update: the baskets of the kind's column of the
-- visitors this run recomputed, now (sign 1) and in the previous run
-- (sign -1). On a cluster this reads the Distributed tables; GLOBAL IN
-- sends the visitors to every shard (on one node it is IN).
SELECT /*BASKET*/ AS basket, toInt64(1) AS sign
FROM seg_baskets
WHERE site = @site AND run_id = @run AND vh GLOBAL IN (SELECT vh FROM seg_affected WHERE site = @site AND run_id = @run)
UNION ALL
SELECT /*BASKET*/ AS basket, toInt64(-1) AS sign
FROM seg_baskets
WHERE site = @site AND run_id = @prev AND vh GLOBAL IN (SELECT vh FROM seg_affected WHERE site = @site AND run_id = @run)
