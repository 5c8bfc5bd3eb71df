-- (Fragment, not a step.) The catalog's price terciles [low/mid, mid/high]
-- ([nan, nan] without prices), interpolated between the two nearest
-- prices like quantiles() (which samples catalogs of over 8,192 products
-- in read order, so its terciles would vary between runs and servers).
-- The profiles pass bands the visitors it computes by them, and an
-- incremental run the visitors it copies (carry_profiles): a change of
-- the catalog's prices moves every visitor's band.
(
    SELECT if(empty(ps), [nan, nan], [ps[i1] * (1 - f1) + ps[least(i1 + 1, length(ps))] * f1,
                                      ps[i2] * (1 - f2) + ps[least(i2 + 1, length(ps))] * f2])
    FROM (
        SELECT arraySort(groupArray(price)) AS ps,
            (length(ps) - 1) * 0.3333 AS h1, toUInt64(floor(h1)) + 1 AS i1, h1 - floor(h1) AS f1,
            (length(ps) - 1) * 0.6667 AS h2, toUInt64(floor(h2)) + 1 AS i2, h2 - floor(h2) AS f2
        FROM v_products WHERE site = @site AND product_id != '' AND price > 0
    ) AS prices
)
