package feeds_test

import (
	"strings"
	"time"
)

// runFinished is when the fixture's segment run ended: offer windows
// start here (Thu 26 Nov 2026, 10:00 UTC).
var runFinished = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// hardCatalog is made to break naive feed writers: markup characters,
// quotes, emoji, control characters and invalid UTF-8, a description over
// the limit, non-ASCII URLs, float prices and a zero-decimal currency,
// and products that cannot be made valid at all.
func hardCatalog() []product {
	long := strings.Repeat("Sturdy zoom lens with weather sealing & fast autofocus. ", 110) // ~6,000 chars
	return []product{
		{ID: "amp", Title: `Tom & Jerry "Deluxe" <Edition> 'quoted'`, Description: "<p>Great &amp; cheap</p><br>second&nbsp;line <b>bold</b>",
			Link: "https://shop.example/p?id=1&ref=x", Image: "https://cdn.example/amp.jpg", Price: 1234.5, Currency: "USD", Brand: "ACME & Sons", GTIN: "0012345678905", Category: "Cameras > DSLR"},
		{ID: "emoji", Title: "Camera 📷 with\x01control\x07chars\x00 and\ttab", Description: long,
			Link: "https://bücher.example/Kamera/Größe?farbe=grün&x=1#top", Image: "https://cdn.example/emoji.jpg", Price: 0.1 + 0.2, Currency: "eur", Brand: "Émoji™"},
		{ID: "jpy", Title: "Lens cap", Description: "", Link: "http://shop.example/jpy", Image: "https://cdn.example/j.jpg", Price: 1500, Currency: "JPY", Availability: "out of stock", Condition: "Used"},
		{ID: "utf8", Title: "Broken \xff\xfe bytes\u2028here", Description: "ok", Link: "https://shop.example/u", Image: "https://cdn.example/u.jpg", Price: 19.999, Currency: "USD"},
		{ID: "noimg", Title: "No image", Link: "https://shop.example/n", Price: 10, Currency: "USD"},
		{ID: "noprice", Title: "No price", Link: "https://shop.example/n", Image: "https://cdn.example/n.jpg", Price: 0, Currency: "USD"},
		{ID: "badlink", Title: "Bad link", Link: "javascript:alert(1)", Image: "https://cdn.example/b.jpg", Price: 10, Currency: "USD"},
		{ID: strings.Repeat("x", 51), Title: "Long id", Link: "https://shop.example/l", Image: "https://cdn.example/l.jpg", Price: 10, Currency: "USD"},
		{ID: "kwd", Title: "Three decimals", Link: "https://shop.example/k", Image: "https://cdn.example/k.jpg", Price: 12.3456, Currency: "KWD", Condition: "refurbished", Availability: "preorder",
			AvailabilityDate: time.Date(2026, 12, 15, 8, 0, 0, 0, time.UTC)},
	}
}

// hardList ranks them for audience "cart" the way a segment run does
// (reminder, upsell, then cross-sell), with a product listed twice, to
// check that the feed keeps the run's order and unique ids.
func hardList() []listed {
	longReason := "Goes with your " + strings.Repeat("Canon EOS 250D Mark II Ultra ", 6)
	return []listed{
		{Product: "utf8", Strategy: "reminder", Reason: "Still in your cart", Rank: 1},
		{Product: "amp", Anchor: "old", Strategy: "upsell", Reason: "Upgrade from Canon EOS 250D", Motivation: "bestseller", Rank: 2},
		{Product: "kwd", Strategy: "upsell", Reason: "Upgrade", Rank: 3},
		{Product: "jpy", Anchor: "amp", Strategy: "cross_sell", Reason: longReason, Rank: 4},
		{Product: "amp", Anchor: "old2", Strategy: "cross_sell", Reason: "listed twice", Rank: 5},
		{Product: "emoji", Anchor: "amp", Strategy: "cross_sell", Reason: "Goes with your Tom & Jerry", Motivation: "overstock", Rank: 6},
		{Product: "noimg", Strategy: "upsell", Rank: 7},
		{Product: "noprice", Strategy: "upsell", Rank: 8},
		{Product: "badlink", Strategy: "upsell", Rank: 9},
		{Product: strings.Repeat("x", 51), Strategy: "upsell", Rank: 10},
		{Product: "missing-from-catalog", Strategy: "upsell", Rank: 11},
	}
}

// seedHard fills site shop's run "r1" with the hard catalog.
func (s *server) seedHard() {
	s.fx.products("shop", hardCatalog()...)
	s.fx.products("shop", product{ID: "old", Title: "Canon EOS 250D", Link: "https://shop.example/old", Image: "https://cdn.example/o.jpg", Price: 500, Currency: "USD"})
	s.fx.run("shop", "r1", runFinished, "cart", 3)
	s.fx.list("shop", "r1", "cart", hardList()...)
	s.now = runFinished.Add(time.Hour)
}
