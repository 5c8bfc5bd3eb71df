package feeds

import (
	"math"
	"testing"
	"time"
)

// TestRedeemGivesTheDiscountOfTheOffer: the discount given away per order
// line, for each kind of offer (table of known answers).
func TestRedeemGivesTheDiscountOfTheOffer(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 30, 15, 0, time.UTC)
	cases := []struct {
		name         string
		offer        Offer
		lines        []orderLine
		ok           bool
		qty          uint32
		revenue, off float64
	}{
		{"percent: list minus sale", Offer{Product: "cam", Percent: 10, ListPrice: "549.00", SalePrice: "494.10", Currency: "EUR"},
			[]orderLine{{"cam", 494.10, 1}}, true, 1, 494.10, 54.90},
		{"two units", Offer{Product: "cam", Percent: 10, ListPrice: "549.00", SalePrice: "494.10", Currency: "EUR"},
			[]orderLine{{"cam", 494.10, 2}, {"bag", 30, 1}}, true, 2, 988.20, 109.80},
		{"fixed amount", Offer{Product: "cam", Amount: "15.00", ListPrice: "549.00", SalePrice: "534.00", Currency: "EUR"},
			[]orderLine{{"cam", 534, 1}}, true, 1, 534, 15},
		{"bundle with its anchor", Offer{Product: "lens", Amount: "5.00", BundlePercent: 15, Anchor: "cam", ListPrice: "200.00", SalePrice: "195.00", Currency: "USD"},
			[]orderLine{{"cam", 549, 1}, {"lens", 170, 1}}, true, 1, 170, 30},
		{"bundle price without the anchor", Offer{Product: "lens", Amount: "5.00", BundlePercent: 15, Anchor: "cam", ListPrice: "200.00", SalePrice: "195.00", Currency: "USD"},
			[]orderLine{{"lens", 195, 1}}, true, 1, 195, 5},
		{"token without a list price: the line's price", Offer{Product: "cam", Percent: 20, Currency: "USD"},
			[]orderLine{{"cam", 100, 1}}, true, 1, 100, 20},
		{"no price reported: the sale price", Offer{Product: "cam", Percent: 10, ListPrice: "549.00", SalePrice: "494.10", Currency: "EUR"},
			[]orderLine{{"cam", 0, 0}}, true, 1, 494.10, 54.90},
		{"yen have no minor unit", Offer{Product: "cam", Percent: 10, ListPrice: "54900", SalePrice: "49410", Currency: "JPY"},
			[]orderLine{{"cam", 49410, 3}}, true, 3, 148230, 16470},
		{"bundle-only offer without its anchor: no discount used", Offer{Product: "lens", BundlePercent: 15, Anchor: "cam", ListPrice: "200.00", Currency: "USD"},
			[]orderLine{{"lens", 200, 1}}, false, 0, 0, 0},
		{"the order lacks the product", Offer{Product: "cam", Percent: 10, ListPrice: "549.00", SalePrice: "494.10"},
			[]orderLine{{"bag", 30, 1}}, false, 0, 0, 0},
	}
	for _, c := range cases {
		c.offer.Site, c.offer.Audience = "shop", "cart"
		r, ok := redeem(c.offer, order{ID: "O1", VisitorID: "v", At: at, Lines: c.lines}, FromEvent)
		if ok != c.ok {
			t.Errorf("%s: ok = %v", c.name, ok)
			continue
		}
		if !ok {
			continue
		}
		if r.Quantity != c.qty || r.Revenue != c.revenue || r.Discount != c.off || r.OrderID != "O1" || !r.RedeemedAt.Equal(at) {
			t.Errorf("%s: %d units, revenue %v, discount %v; want %d, %v, %v", c.name, r.Quantity, r.Revenue, r.Discount, c.qty, c.revenue, c.off)
		}
	}
}

// TestRedeemRefusesNonFiniteAmounts: an order line whose revenue or
// discount is not a finite number is no redemption, so nothing that JSON
// cannot carry or the lift report cannot sum is stored.
func TestRedeemRefusesNonFiniteAmounts(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 30, 15, 0, time.UTC)
	offer := Offer{Site: "shop", Audience: "cart", Product: "cam", Percent: 10, ListPrice: "549.00", SalePrice: "494.10", Currency: "EUR"}
	for name, lines := range map[string][]orderLine{
		"revenue overflows":     {{"cam", 1e304, 100000}},
		"an infinite price":     {{"cam", math.Inf(1), 1}},
		"NaN price":             {{"cam", math.NaN(), 1}},
		"two lines overflowing": {{"cam", math.MaxFloat64, 1}, {"cam", math.MaxFloat64, 1}},
	} {
		if r, ok := redeem(offer, order{ID: "O1", At: at, Lines: lines}, FromEvent); ok {
			t.Errorf("%s: redeemed with revenue %v, discount %v", name, r.Revenue, r.Discount)
		}
	}
	// The line's own price as the list price (a token from before list
	// prices were signed): an infinite price makes an infinite discount.
	old := Offer{Site: "shop", Audience: "cart", Product: "cam", Percent: 10, Currency: "EUR"}
	if r, ok := redeem(old, order{ID: "O2", At: at, Lines: []orderLine{{"cam", math.Inf(1), 1}}}, FromEvent); ok {
		t.Errorf("unsigned list price: redeemed with revenue %v, discount %v", r.Revenue, r.Discount)
	}
}
