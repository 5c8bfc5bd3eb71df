-- Next-item evaluation, remarket's lists: each evaluated anchor's
-- related products in the relation's order (position) as the run
-- @rel_run computed them, the first @k, and the first @k the price
-- rules allow (strategy upsell or cross_sell).
INSERT INTO seg_eval_lists (site, run_id, method, a, list, allowed)
SELECT @site, @run, 'remarket', ph,
    arraySlice(arrayMap(x -> x.2, arraySort(groupArray((position, related_ph)))), 1, @k),
    arraySlice(arrayMap(x -> x.2, arraySort(groupArrayIf((position, related_ph), strategy != 'similar'))), 1, @k)
FROM (
    SELECT DISTINCT ph, related_ph, position, strategy
    FROM seg_related
    WHERE site = @site AND run_id = @rel_run AND ph IN (SELECT a FROM seg_eval_pairs WHERE site = @site AND run_id = @run)
)
GROUP BY ph
