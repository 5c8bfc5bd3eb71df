-- Most-popular baseline under the same rules: the @popular list (in-stock
-- products by visitors in the training interests) minus what the visitor
-- bought, or another visitor id with their user id bought
-- (seg_person_bought, as anchors.sql), first @k. Returns hits, dcg and
-- the products shown.
-- (Coverage uses the -Array combinator: an arrayJoin() here would repeat
-- every visitor's row once per shown product and inflate hits and dcg.)
SELECT countIf(rank > 0) AS hits, sumIf(1 / log2(rank + 1), rank > 0) AS dcg,
    uniqExactArray(shown) AS coverage
FROM (
    SELECT vh, arrayMap(x -> x.2, arraySlice(arraySort(list), 1, @k)) AS shown, indexOf(shown, target) AS rank
    FROM (
        SELECT vh, any(ph) AS target, groupArray((pos, p)) AS list
        FROM (
            SELECT vh, ph, p, pos
            FROM (SELECT vh, ph FROM seg_eval_holdout WHERE site = @site AND run_id = @run)
            ARRAY JOIN @popular AS p, arrayEnumerate(@popular) AS pos
            WHERE (vh, p) NOT IN (
                SELECT vh, ph FROM seg_interests
                WHERE site = @site AND run_id = @run AND ph != 0 AND purchased_at > toDateTime(0)
                UNION ALL
                SELECT vh, arrayJoin(bought) AS ph FROM seg_person_bought WHERE site = @site AND run_id = @run
            )
        )
        GROUP BY vh
    )
)
