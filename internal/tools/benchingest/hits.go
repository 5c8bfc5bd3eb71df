package main

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// product is one item of the synthetic shop the hits browse.
type product struct {
	id, slug, title, price string
}

var products = []product{
	{"SKU-A7IV", "sony-alpha-7-iv", "Sony Alpha 7 IV Body", "2499.00"},
	{"SKU-Z6II", "nikon-z6-ii", "Nikon Z6 II Body", "1899.00"},
	{"SKU-R6M2", "canon-eos-r6-mark-ii", "Canon EOS R6 Mark II", "2599.00"},
	{"SKU-XT5", "fujifilm-x-t5", "Fujifilm X-T5 Silver", "1699.00"},
	{"SKU-GH6", "panasonic-lumix-gh6", "Panasonic Lumix GH6", "1799.00"},
	{"SKU-OM1", "om-system-om-1", "OM System OM-1", "1999.00"},
	{"SKU-ZF", "nikon-zf", "Nikon Zf Body", "2299.00"},
	{"SKU-A6700", "sony-a6700", "Sony α6700 Body", "1499.00"},
}

var referrers = []string{
	"https://www.google.com/",
	"https://www.bing.com/search?q=mirrorless+camera",
	"https://shop.example/c/cameras/mirrorless",
	"",
}

// The hit mix of a shop: mostly browsing, some carts, a few orders.
var eventMix = []string{
	"page_view", "page_view", "page_view", "page_view", "page_view",
	"product_view", "product_view", "product_view",
	"add_to_cart", "purchase",
}

// hitSource builds realistic GET /p.gif paths. Every request is a
// distinct event: its id is a UUID v4 lookalike made from a counter by a
// bijective mix (unique without the cost of crypto randomness). The ids
// must look random like browsers' ones: sequential ids with a common
// prefix make ClickHouse 18.16's uniqExact(UUID) crawl (hash collisions).
type hitSource struct {
	key  string
	seed uint64
	seq  atomic.Uint64
	vids []string
}

func newHitSource(key string) *hitSource {
	h := &hitSource{key: key, seed: rand.Uint64()}
	for i := 0; i < 5000; i++ {
		h.vids = append(h.vids, h.uuid(rand.Uint64()))
	}
	return h
}

// mix is the splitmix64 finaliser, a bijection on uint64.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// uuid formats n as a version-4-shaped UUID. The low 62 bits are a
// bijection of n's low 62 bits, so ids below 2^62 never repeat.
func (h *hitSource) uuid(n uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], mix(n^h.seed))
	binary.BigEndian.PutUint64(b[8:], mix62(n))
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// next returns the path and query of one new hit; rng is the caller's own
// (math/rand/v2 sources are not safe for concurrent use).
func (h *hitSource) next(rng *rand.Rand) string {
	n := h.seq.Add(1)
	p := products[rng.IntN(len(products))]
	ev := eventMix[rng.IntN(len(eventMix))]
	var b strings.Builder
	b.Grow(512)
	b.WriteString("/p.gif?k=")
	b.WriteString(h.key)
	b.WriteString("&e=")
	b.WriteString(ev)
	b.WriteString("&url=")
	b.WriteString(url.QueryEscape("https://shop.example/p/" + p.slug + "?utm_source=newsletter&utm_medium=email"))
	if ref := referrers[rng.IntN(len(referrers))]; ref != "" {
		b.WriteString("&ref=")
		b.WriteString(url.QueryEscape(ref))
	}
	b.WriteString("&title=")
	b.WriteString(url.QueryEscape(p.title + " – Shop Example"))
	if ev != "page_view" {
		b.WriteString("&pid=")
		b.WriteString(p.id)
		b.WriteString("&cat=")
		b.WriteString(url.QueryEscape("Cameras > Mirrorless"))
		b.WriteString("&price=")
		b.WriteString(p.price)
		b.WriteString("&cur=EUR")
	}
	if ev == "purchase" {
		b.WriteString("&qty=1&oid=ORD-")
		b.WriteString(strconv.FormatUint(n, 10))
		b.WriteString("&rev=")
		b.WriteString(p.price)
	}
	b.WriteString("&vid=")
	b.WriteString(h.vids[rng.IntN(len(h.vids))])
	b.WriteString("&eid=")
	b.WriteString(h.uuid(n))
	b.WriteString("&ts=")
	b.WriteString(strconv.FormatInt(time.Now().UnixMilli(), 10))
	return b.String()
}

// mix62 is a bijection on the low 62 bits (xorshift-multiply rounds
// reduced mod 2^62), leaving the two bits the variant overwrites zero.
func mix62(x uint64) uint64 {
	const m = 1<<62 - 1
	x &= m
	x ^= x >> 31
	x = x * 0xbf58476d1ce4e5b9 & m
	x ^= x >> 29
	x = x * 0x94d049bb133111eb & m
	return x ^ x>>32
}
