-- Each anchor's best related products per strategy (prio 1 upsell, 2
-- cross-sell) over all kinds: a product's score is its best kind weight
-- (declared 4, co-purchase and co-view 2, category fallback 1) / rank,
-- and the @max_items best are kept (ties by hash). A member's list is at
-- most @max_items long, so deeper candidates could only fill places left
-- by products they bought; recommendations start from these few rows
-- per anchor instead of every kind's list. Anchors are split in @parts
-- by hash (this run does part @part), so both cores rank.
INSERT INTO seg_related_best (site, run_id, ph, related_ph, prio, score)
SELECT @site, @run, ph, r.1, prio, r.2
FROM (
    SELECT ph, prio, arraySlice(arraySort(x -> (-x.2, x.1), groupArray((related_ph, s))), 1, @max_items) AS rs
    FROM (
        SELECT ph, related_ph, toUInt8(if(strategy = 'upsell', 1, 2)) AS prio,
            max(transform(kind, ['declared', 'co_purchase', 'co_view', 'category_fallback'], [4., 2., 2., 1.], 1.) / rank) AS s
        FROM seg_related
        WHERE site = @site AND run_id = @run AND rank <= @max_items AND ph % @parts = @part
        GROUP BY ph, related_ph, prio
    )
    GROUP BY ph, prio
) ARRAY JOIN rs AS r
