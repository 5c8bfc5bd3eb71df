-- Outcomes of the site's audiences (@audiences; @windows: each one's
-- attribution window in seconds) as of the run, per audience, day joined
-- (UTC) and group: the persons who joined by then (joins.sql: each
-- human's earliest row of seg_member_joins, a visitor who joined before
-- signing in being their user), how many bought within the window after
-- joining (converters), their orders and revenue, the sum of squares of
-- each person's revenue (for the revenue interval), and the offers of
-- this audience they redeemed in the window with the discount given away.
-- complete = 1 once the day is over and the window of everyone who could
-- join that day has ended: it depends on the day alone, so both groups of
-- a day agree, and a day once complete stays so.
--
-- A purchase or redemption is one person's, named as joins.sql names
-- them: its user id, else its visitor's latest user id in this run's
-- profiles, else its visitor. "After joining" is strictly after: the run
-- that found a person a member had read the events of its as-of second.
-- An order counts once per audience: the snippet and the shop's server
-- may both send it (one order id), each event naming its buyer its own
-- way; it goes to the person of it who joined first. A person's revenue
-- is the order's revenue, else the sum of its lines (a value that is not
-- finite counts as 0: it could be neither summed nor answered as JSON).
-- Purchases are non-bot events of type purchase (as the copy FINAL
-- keeps: an id re-sent later as a purchase is not one, copies.sql).
-- currencies lists the currencies of the orders and redemptions counted
-- (sorted, an unnamed one left out): revenue of two currencies cannot be
-- summed, and the lift report says so instead of comparing it.
INSERT INTO seg_outcomes (site, run_id, audience, day_joined, grp, members, converters, orders, revenue, revenue_sq,
    redemptions, discount_cost, complete, currencies)
SELECT @site, @run, audience, day_joined, grp,
    count() AS members,
    countIf(p_orders > 0) AS converters,
    sum(p_orders) AS orders,
    sum(p_revenue) AS revenue,
    sum(p_revenue * p_revenue) AS revenue_sq,
    sum(p_redemptions) AS redemptions,
    sum(p_discount) AS discount_cost,
    toUInt8((toUInt64(day_joined) + 1) * 86400 + max(window_s) <= toUInt64(toDateTime(@now))) AS complete,
    arraySort(groupUniqArrayArray(p_currencies)) AS currencies
FROM (
    SELECT audience, person, joined_at, window_s, grp, toDate(joined_at, 'UTC') AS day_joined,
        p_orders, p_revenue, p_redemptions, p_discount, p_currencies
    FROM (
/*JOINS*/
    ) AS joins ANY LEFT JOIN (
        SELECT audience, person,
            countIf(kind = 1) AS p_orders,
            sumIf(f_revenue, kind = 1) AS p_revenue,
            countIf(kind = 2) AS p_redemptions,
            sumIf(f_discount, kind = 2) AS p_discount,
            groupUniqArrayIf(f_cur, f_cur != '') AS p_currencies
        FROM (
            SELECT audience, kind, order_key, argMin(person, (joined_at, person)) AS person,
                max(f_revenue) AS f_revenue, max(f_discount) AS f_discount, max(f_cur) AS f_cur
            FROM (
                SELECT audience, person, joined_at, kind, order_key, f_revenue, f_discount, f_cur
                FROM (
                    SELECT person, kind, r_audience, order_key, min(t) AS at, max(rev) AS f_revenue, max(off) AS f_discount,
                        max(cur) AS f_cur
                    FROM (
                        SELECT if(user_id != '', concat('u:', user_id),
                                if(profile_uid != '', concat('u:', profile_uid), concat('v:', visitor_id))) AS person,
                            kind, r_audience, order_key, t, rev, off, cur
                        FROM (
                            SELECT cityHash64(visitor_id) AS vh, visitor_id, user_id, toUInt8(1) AS kind, '' AS r_audience,
                                if(order_id != '', order_id, concat('event:', toString(event_id))) AS order_key,
                                event_time AS t,
                                if(revenue > 0, revenue,
                                    if(notEmpty(items.price), arraySum(arrayMap((p, q) -> p * greatest(q, 1), items.price, items.quantity)),
                                        price * greatest(quantity, 1))) AS line_rev,
                                if(isFinite(line_rev), line_rev, 0) AS rev,
                                toFloat64(0) AS off, currency AS cur
                            FROM events FINAL
                            PREWHERE event_id GLOBAL IN (/*PURCHASE_COPIES*/)
                            WHERE site = @site AND type = 'purchase' AND is_bot = 0 AND visitor_id != '' AND event_time <= toDateTime(@now)
                                AND event_time > (SELECT min(joined_at) FROM seg_member_joins WHERE site = @site)
                            UNION ALL
                            SELECT cityHash64(visitor_id) AS vh, visitor_id, user_id, toUInt8(2) AS kind, audience AS r_audience,
                                concat(order_id, '/', product_id) AS order_key, redeemed_at AS t, revenue AS line_rev,
                                if(isFinite(line_rev), line_rev, 0) AS rev, if(isFinite(discount), discount, 0) AS off,
                                currency AS cur
                            FROM v_offer_redemptions
                            WHERE site = @site AND redeemed_at <= toDateTime(@now) AND has(@audiences, audience)
                                AND (visitor_id != '' OR user_id != '')
                        ) AS facts ANY LEFT JOIN (
                            SELECT vh, user_id AS profile_uid FROM seg_profiles
                            WHERE site = @site AND run_id = @run AND user_id != ''
                        ) AS profiles USING vh
                    )
                    GROUP BY person, kind, r_audience, order_key
                ) AS facts ALL INNER JOIN (
/*JOINS*/
                ) AS joins USING person
                WHERE at > joined_at AND at < joined_at + window_s AND (kind = 1 OR r_audience = audience)
            )
            GROUP BY audience, kind, order_key
        )
        GROUP BY audience, person
    ) AS outcomes USING (audience, person)
)
GROUP BY audience, day_joined, grp
