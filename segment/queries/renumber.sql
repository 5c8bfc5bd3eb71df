-- Fragment: the previous run's (@prev) product number NUMBER as this run
-- numbers the same product (01_numbers), or 0 for a product no longer in
-- the catalog. Both runs number the catalog in product id order, so a
-- product keeps its place among the others: the order of a basket, x < y
-- in a pair and every tie broken by number stay as they were. The two
-- arrays are the previous numbers in order and the new numbers in the
-- same order (transform builds one lookup table for the query).
transform(/*NUMBER*/,
    (SELECT arraySort(groupArray(idx)) FROM (/*NUMBERS*/)),
    (SELECT arrayMap(t -> tupleElement(t, 2), arraySort(groupArray((idx, new)))) FROM (/*NUMBERS*/)),
    toUInt32(0))
