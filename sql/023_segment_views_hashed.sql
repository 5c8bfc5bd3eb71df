-- The analysts' views over the second segments layout (022), with the
-- same columns as before. Interest rows are keyed by visitor hash; the
-- visitor_id comes from the run's profiles, the product id from its
-- products. Category interests (one row per prefix level of the path,
-- depth 1 = top level) are summed from the interest rows here, when read.
-- The view itself is created by 029 (this one's first form joined
-- subqueries without aliases, which current ClickHouse refuses).
DROP TABLE IF EXISTS v_visitor_interests;
