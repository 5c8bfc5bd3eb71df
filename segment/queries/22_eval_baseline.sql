-- Most-popular baseline under the same rules: the @popular list (in-stock
-- products by distinct visitors in the training lines) minus what the
-- visitor bought, first @k. Returns hits, dcg and the products shown.
-- (Coverage uses the -Array combinator: an arrayJoin() here would repeat
-- every visitor's row once per shown product and inflate hits and dcg.)
SELECT countIf(rank > 0) AS hits, sumIf(1 / log2(rank + 1), rank > 0) AS dcg,
    uniqExactArray(shown) AS coverage
FROM (
    SELECT visitor_id, arrayMap(x -> x.2, arraySlice(arraySort(list), 1, @k)) AS shown, indexOf(shown, target) AS rank
    FROM (
        SELECT visitor_id, any(product_id) AS target, groupArray((pos, p)) AS list
        FROM (
            SELECT visitor_id, product_id, p, pos
            FROM (SELECT visitor_id, product_id FROM seg_eval_holdout WHERE site = @site AND run_id = @run)
            ARRAY JOIN @popular AS p, arrayEnumerate(@popular) AS pos
            WHERE (visitor_id, p) NOT IN (
                SELECT visitor_id, product_id FROM seg_product_interests
                WHERE site = @site AND run_id = @run AND purchased_at > toDateTime(0)
            )
        )
        GROUP BY visitor_id
    )
)
