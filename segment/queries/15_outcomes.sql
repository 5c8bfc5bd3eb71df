-- Outcomes of the site's audiences (@audiences; @windows: each one's
-- attribution window in seconds) as of the run, per audience, day joined
-- (UTC) and group: the persons who joined by then (seg_member_joins, each
-- person's earliest row), how many bought within the window after joining
-- (converters), their orders and revenue, the sum of squares of each
-- person's revenue (for the revenue interval), and the offers of this
-- audience they redeemed in the window with the discount given away.
-- complete = 1 once the window of every person of the day has ended.
--
-- A purchase or redemption belongs to a person when the person is its
-- visitor ("v:" key) or its user: the event's user id, or the visitor's
-- latest user id in this run's profiles. An order counts once per person
-- (the snippet and the shop's server may both send it: one order id).
-- Purchases are non-bot events of type purchase (as the copy FINAL keeps:
-- an id re-sent later as a purchase is not one, copies.sql); a person's
-- revenue is the order's revenue, else the sum of its lines.
INSERT INTO seg_outcomes (site, run_id, audience, day_joined, grp, members, converters, orders, revenue, revenue_sq,
    redemptions, discount_cost, complete)
SELECT @site, @run, audience, day_joined, grp,
    count() AS members,
    countIf(p_orders > 0) AS converters,
    sum(p_orders) AS orders,
    sum(p_revenue) AS revenue,
    sum(p_revenue * p_revenue) AS revenue_sq,
    sum(p_redemptions) AS redemptions,
    sum(p_discount) AS discount_cost,
    toUInt8(max(joined_at) + max(window_s) <= toDateTime(@now)) AS complete
FROM (
    SELECT audience, person, joined_at, window_s, grp, toDate(joined_at, 'UTC') AS day_joined,
        p_orders, p_revenue, p_redemptions, p_discount
    FROM (
/*JOINS*/
    ) AS joins ANY LEFT JOIN (
        SELECT audience, person,
            uniqExactIf(order_key, kind = 1) AS p_orders,
            sumIf(f_revenue, kind = 1) AS p_revenue,
            countIf(kind = 2) AS p_redemptions,
            sumIf(f_discount, kind = 2) AS p_discount
        FROM (
            SELECT audience, person, kind, order_key, f_revenue, f_discount
            FROM (
                SELECT person, kind, r_audience, order_key, min(t) AS at, max(rev) AS f_revenue, max(off) AS f_discount
                FROM (
                    SELECT arrayJoin(arrayFilter(k -> k != '', [
                            if(visitor_id != '', concat('v:', visitor_id), ''),
                            if(user_id != '', concat('u:', user_id), ''),
                            if(profile_uid != '', concat('u:', profile_uid), '')])) AS person,
                        kind, r_audience, order_key, t, rev, off
                    FROM (
                        SELECT vh, visitor_id, user_id, kind, r_audience, order_key, t, rev, off, profile_uid
                        FROM (
                            SELECT cityHash64(visitor_id) AS vh, visitor_id, user_id, toUInt8(1) AS kind, '' AS r_audience,
                                if(order_id != '', order_id, concat('event:', toString(event_id))) AS order_key,
                                event_time AS t,
                                if(revenue > 0, revenue,
                                    if(notEmpty(items.price), arraySum(arrayMap((p, q) -> p * greatest(q, 1), items.price, items.quantity)),
                                        price * greatest(quantity, 1))) AS rev,
                                toFloat64(0) AS off
                            FROM events FINAL
                            PREWHERE event_id GLOBAL IN (/*PURCHASE_COPIES*/)
                            WHERE site = @site AND type = 'purchase' AND is_bot = 0 AND visitor_id != '' AND event_time <= toDateTime(@now)
                                AND event_time >= (SELECT min(joined_at) FROM seg_member_joins WHERE site = @site)
                            UNION ALL
                            SELECT cityHash64(visitor_id) AS vh, visitor_id, user_id, toUInt8(2) AS kind, audience AS r_audience,
                                concat(order_id, '/', product_id) AS order_key, redeemed_at AS t, revenue AS rev, discount AS off
                            FROM v_offer_redemptions
                            WHERE site = @site AND redeemed_at <= toDateTime(@now) AND has(@audiences, audience)
                        ) AS facts ANY LEFT JOIN (
                            SELECT vh, user_id AS profile_uid FROM seg_profiles
                            WHERE site = @site AND run_id = @run AND user_id != ''
                        ) AS profiles USING vh
                    )
                )
                GROUP BY person, kind, r_audience, order_key
            ) AS facts ALL INNER JOIN (
/*JOINS*/
            ) AS joins USING person
            WHERE at >= joined_at AND at < joined_at + window_s AND (kind = 1 OR r_audience = audience)
        )
        GROUP BY audience, person
    ) AS outcomes USING (audience, person)
)
GROUP BY audience, day_joined, grp
