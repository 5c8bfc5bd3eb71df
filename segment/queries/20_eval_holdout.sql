-- Leave-last-out: for every visitor with at least two distinct products
-- among their product views, carts and purchases, hold out the last such
-- interaction (latest time; ties broken by product id). @all_run is a
-- run whose lines hold everything.
INSERT INTO seg_eval_holdout (site, run_id, visitor_id, event_time, product_id)
SELECT @site, @run, visitor_id, last.1, last.2
FROM (
    SELECT visitor_id, argMax((event_time, product_id), (event_time, product_id)) AS last, uniqExact(product_id) AS products
    FROM seg_lines
    WHERE site = @site AND run_id = @all_run AND product_id != ''
        AND type IN ('product_view', 'add_to_cart', 'checkout', 'purchase')
    GROUP BY visitor_id
    HAVING products >= 2
)
