package feeds

import (
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
