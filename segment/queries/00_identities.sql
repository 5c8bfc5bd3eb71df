-- Each visitor's latest user id and identify traits (email, customer
-- type, the latest traits) and whether any identify said business
-- (a company, as a name or as Segment's company object, a vat_id, or
-- b2b = true). Latest values and "any" do not change
-- when an event is stored twice, so events are read without FINAL, and
-- only those with a user id or identify traits. 03_profiles joins them.
-- An incremental run needs them only for the visitors it recomputes
-- (/*VISITORS*/ then keeps their rows; the others' profiles are copied).
-- Values of one second are told apart by the value itself, so every
-- server and every run picks the same.
INSERT INTO seg_identities (site, run_id, vh, visitor_id, user_id, email, customer_type, b2b, traits)
SELECT @site, @run, cityHash64(visitor_id) AS vh, any(visitor_id),
    argMaxIf(user_id, (event_time, user_id), user_id != ''),
    argMaxIf(email, (event_time, email), email != ''),
    argMaxIf(ctype, (event_time, ctype), ctype != ''),
    max(business),
    argMaxIf(id_traits, (event_time, id_traits), id_traits != '')
FROM (
    SELECT visitor_id, user_id, event_time, id_traits,
        visitParamExtractString(id_traits, 'email') AS email,
        visitParamExtractString(id_traits, 'customer_type') AS ctype,
        toUInt8(visitParamExtractRaw(id_traits, 'company') NOT IN ('', '""', 'null', 'false', '{}', '[]')
            OR visitParamExtractString(id_traits, 'vat_id') != ''
            OR visitParamExtractBool(id_traits, 'b2b') = 1) AS business
    FROM (
        SELECT visitor_id, user_id, event_time, if(type = 'identify', traits, '') AS id_traits
        FROM events
        PREWHERE (user_id != '' OR (type = 'identify' AND traits != '')) /*VISITORS*/
        WHERE site = @site AND is_bot = 0 AND visitor_id != '' AND event_time <= toDateTime(@now)
    )
)
GROUP BY vh
