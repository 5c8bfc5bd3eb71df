-- Interest per visitor and product: the sum of event weights decayed with
-- the configured half-life, and the intent stage. Stage: carted when the
-- last add_to_cart/checkout is after the last purchase and the last
-- remove_from_cart; else purchased when ever bought; else browsed.
-- Product-less lines with a category (list views) give one row per
-- visitor and category with ph = 0; they only add to category interests.
-- A product's category is the catalog's, else the one its events gave.
-- One pass over events, grouped by three UInt64 keys (vh, ph, and for
-- list lines ch, the hash of their category): numbers only, so the
-- groups keep no String state (keeping a list line's category per group
-- cost 7% more CPU and memory); the category names come from the join
-- at the end, which maps (0, ch) to the name like (ph, 0) to its
-- product's category. Each line is
-- packed into one UInt64 (time << 32 | quantity << 12 | stage bits 8–11
-- | index of its type in @wtypes) and the group keeps them in one array:
-- with 5.5 M groups of about one line each, every extra aggregate state
-- costs a random memory access per group, and array functions over the
-- packed lines are sequential. The score adds the lines in the order of
-- their packed values: the array holds them in the order the server's
-- threads read them, and doubles added in another order can differ in
-- the last bit, so two runs on the same events gave scores a bit apart.
INSERT INTO seg_interests (site, run_id, vh, ph, category, score, events, last_time, viewed_at, carted_at, purchased_at, units_bought, stage)
SELECT @site, @run, v, p, category_name AS category,
    score, events, last_time, viewed_at, carted_at, purchased_at, units_bought,
    multiIf(carted_at > purchased_at AND carted_at > removed_at, 'carted',
        purchased_at > toDateTime(0), 'purchased',
        'browsed') AS stage
FROM (
    SELECT v, p, ch,
        arraySum(arrayMap(x -> arrayElement(@wvals, toUInt32(bitAnd(x, 255)))
            * exp(-0.6931471805599453 * (@now - toInt64(bitShiftRight(x, 32))) / (86400. * @half_life_days)), arraySort(packed))) AS score,
        length(packed) AS events,
        toDateTime(bitShiftRight(arrayReduce('max', packed), 32)) AS last_time,
        toDateTime(arrayReduce('max', arrayMap(x -> if(bitAnd(x, 256) != 0, bitShiftRight(x, 32), 0), packed))) AS viewed_at,
        toDateTime(arrayReduce('max', arrayMap(x -> if(bitAnd(x, 512) != 0, bitShiftRight(x, 32), 0), packed))) AS carted_at,
        toDateTime(arrayReduce('max', arrayMap(x -> if(bitAnd(x, 1024) != 0, bitShiftRight(x, 32), 0), packed))) AS removed_at,
        toDateTime(arrayReduce('max', arrayMap(x -> if(bitAnd(x, 2048) != 0, bitShiftRight(x, 32), 0), packed))) AS purchased_at,
        arraySum(arrayMap(x -> if(bitAnd(x, 2048) != 0, greatest(bitAnd(bitShiftRight(x, 12), 1048575), 1), 0), packed)) AS units_bought
    FROM (
        SELECT vh AS v, ph AS p, ch,
            groupArray(bitOr(bitShiftLeft(toUInt64(event_time), 32),
                bitOr(bitShiftLeft(toUInt64(least(quantity, 1048575)), 12),
                bitOr(indexOf(@wtypes, type),
                    multiIf(type = 'product_view', 256, type IN ('add_to_cart', 'checkout'), 512,
                        type = 'remove_from_cart', 1024, type = 'purchase', 2048, 0))))) AS packed
        FROM (
/*LINES*/
        )
        GROUP BY vh, ph, if(ph = 0, cityHash64(line_category), toUInt64(0)) AS ch
    )
) AS interests ANY LEFT JOIN (
    SELECT ph AS p, toUInt64(0) AS ch, category AS category_name FROM seg_products WHERE site = @site AND run_id = @run AND known = 0
    UNION ALL
    SELECT cityHash64(product_id) AS p, toUInt64(0) AS ch, category AS category_name FROM v_products WHERE site = @site AND product_id != ''
    UNION ALL
    -- Every category the site's events name, by hash (a superset of the
    -- list lines' categories), normalised like the catalog's paths. The
    -- join is on (p, ch), so a category spelled like a product id (same
    -- hash) still names only its own rows. An incremental run reads only
    -- its recomputed visitors' events (the NAMED_BY marker): their lines
    -- are the only ones it names.
    SELECT toUInt64(0) AS p, cityHash64(category) AS ch, replaceRegexpAll(any(category), '\\s*>\\s*', ' > ') AS category_name
    FROM events WHERE site = @site AND category != '' /*NAMED_BY*/ GROUP BY ch
) AS names USING (p, ch)
