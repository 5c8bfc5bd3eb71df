-- Fragment of 07_pairs and 07_pairs_update: every pair of products
-- x < y of this part that a basket of the BASKETS source (columns basket
-- and sign) holds, packed into one UInt64, with its position weight (two
-- products d places apart weigh 2²⁰ / d, rounded down) and the basket's
-- sign. A product numbered 0 is one no longer in the catalog, in a
-- previous basket (changed_baskets): it keeps its place but pairs with
-- nothing.
SELECT bitOr(bitShiftLeft(toUInt64(least(p, q)), 32), toUInt64(greatest(p, q))) AS pair,
    toUInt64(intDiv(1048576, toUInt64(j - i))) AS weight, sign
FROM (
    SELECT arrayJoin(arrayEnumerate(basket)) AS i, basket[i] AS p, basket, sign
    FROM (/*BASKETS*/)
    WHERE length(basket) > 1
) ARRAY JOIN basket AS q, arrayEnumerate(basket) AS j
WHERE i < j AND least(p, q) % @parts = @part AND least(p, q) != 0
