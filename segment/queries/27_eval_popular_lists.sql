-- Next-item evaluation, the most-popular baseline: the same list for
-- every anchor, the in-stock products of the most training sessions
-- (@pop_ph, with @pop_cat, @pop_price and @pop_cur, from the code), less the
-- anchor itself: the first @k, and the first @k the price rules allow.
-- ClickHouse 18.16 lambdas cannot name the anchor's columns in a query
-- over a JOIN, so they enter as arrays (arrayResize(…, n, value)).
INSERT INTO seg_eval_lists (site, run_id, method, a, list, allowed)
SELECT @site, @run, 'most_popular', a,
    arraySlice(arrayFilter((b, self) -> b != self, @pop_ph, arrayResize([a], length(@pop_ph), a)), 1, @k),
    arraySlice(arrayFilter((b, self, cat_a, price_a, cur_a, cat_b, price_b, cur_b) -> b != self AND /*PRIO*/ != 0,
        @pop_ph, arrayResize([a], length(@pop_ph), a), arrayResize([cat], length(@pop_ph), cat),
        arrayResize([price], length(@pop_ph), price), arrayResize([cur], length(@pop_ph), cur), @pop_cat, @pop_price, @pop_cur), 1, @k)
FROM (
    SELECT a, cat, price, cur
    FROM (
        SELECT DISTINCT a FROM seg_eval_pairs WHERE site = @site AND run_id = @run
    ) AS anchors ANY LEFT JOIN (
        SELECT ph AS a, cityHash64(category) AS cat, price, cityHash64(currency) AS cur
        FROM seg_products WHERE site = @site AND run_id = @rel_run AND known = 1
    ) AS products USING a
)
