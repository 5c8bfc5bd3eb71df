package catalog_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chtest"
)

// availability_date comes in through every import format and the JSON API
// and reads back from v_products; a bad one is reported by line.
func TestAvailabilityDateInEveryFormat(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	want := time.Date(2026, 12, 15, 8, 0, 0, 0, time.UTC)
	const row = `,Lens,https://s.example/p,https://s.example/i.jpg,1199.00,EUR,preorder,`
	for _, tc := range []struct{ format, body string }{
		{"csv", "id,title,link,image_link,price,currency,availability,availability_date\n" +
			"P1" + row + "2026-12-15T09:00+0100\n" +
			"P2" + row + "2026-12-15\n" +
			"P3" + row + "soon\n" +
			"P4,Lens,https://s.example/p,https://s.example/i.jpg,1199.00,EUR,in_stock,\n"},
		{"jsonl", `{"id":"P1","title":"Lens","price":1199,"currency":"EUR","availability":"preorder","availability_date":"2026-12-15T08:00:00Z"}` + "\n" +
			`{"id":"P2","title":"Lens","price":1199,"currency":"EUR","availability":"preorder","availability_date":"2026-12-15"}` + "\n" +
			`{"id":"P3","title":"Lens","price":1199,"currency":"EUR","availability":"preorder","availability_date":"soon"}` + "\n" +
			`{"id":"P4","title":"Lens","price":1199,"currency":"EUR"}` + "\n"},
		{"xml", `<?xml version="1.0"?><rss xmlns:g="http://base.google.com/ns/1.0"><channel>
<item><g:id>P1</g:id><g:title>Lens</g:title><g:price>1199.00 EUR</g:price><g:availability>preorder</g:availability><g:availability_date>2026-12-15T09:00+0100</g:availability_date></item>
<item><g:id>P2</g:id><g:title>Lens</g:title><g:price>1199.00 EUR</g:price><g:availability>preorder</g:availability><g:availability_date>2026-12-15</g:availability_date></item>
<item><g:id>P3</g:id><g:title>Lens</g:title><g:price>1199.00 EUR</g:price><g:availability>preorder</g:availability><g:availability_date>soon</g:availability_date></item>
<item><g:id>P4</g:id><g:title>Lens</g:title><g:price>1199.00 EUR</g:price></item>
</channel></rss>`},
	} {
		t.Run(tc.format, func(t *testing.T) {
			site := "shop-" + tc.format
			rep, err := importString(t, s, site, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Imported != 3 || rep.Skipped != 1 || len(rep.Errors) != 1 || rep.Errors[0].Field != "availability_date" || rep.Errors[0].ID != "P3" {
				t.Fatalf("report %+v, want P3's availability_date reported and the other three imported", rep)
			}
			got := map[string]time.Time{}
			for _, p := range currentProducts(t, db, site) {
				got[p.ID] = p.AvailabilityDate
			}
			midnight := time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)
			if !got["P1"].Equal(want) || !got["P2"].Equal(midnight) || !got["P4"].Equal(time.Unix(0, 0)) {
				t.Fatalf("availability dates %v, want P1 %v, P2 %v, P4 unknown", got, want, midnight)
			}
		})
	}

	h := newAPI(t, db)
	var rep catalog.Report
	if code := call(t, h, "PUT", "/api/sites/shop/products", adminToken,
		`{"id":"P9","title":"Lens","price":1199,"currency":"EUR","availability":"backorder","availability_date":"2026-12-15T08:00:00Z"}`, &rep); code != http.StatusOK {
		t.Fatalf("PUT = %d %+v", code, rep)
	}
	var p catalog.Product
	if code := call(t, h, "GET", "/api/sites/shop/products/P9", adminToken, "", &p); code != http.StatusOK || !p.AvailabilityDate.Equal(want) {
		t.Fatalf("GET P9 = %d %+v, want availability_date %v", code, p, want)
	}
	var n uint64
	if err := db.QueryRow(context.Background(), "SELECT count() FROM v_products WHERE site = 'shop' AND availability_date = toDateTime('2026-12-15 08:00:00', 'UTC')").Scan(&n); err != nil || n != 1 {
		t.Fatalf("v_products availability_date: %d rows, %v", n, err)
	}
}

// TestStockZeroWithoutAvailabilityIsOutOfStock: a shop export with a
// stock count and no availability column said "in stock" for products it
// has none of, and segments and feeds advertised them. An explicit stock
// of 0 with no availability is out of stock; a stated availability still
// wins, and an empty stock stays unknown.
func TestStockZeroWithoutAvailabilityIsOutOfStock(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	for _, tc := range []struct{ format, body string }{
		{"csv", "id,price,currency,stock_quantity,availability\n" +
			"EMPTY,1,EUR,0,\n" + "SOME,1,EUR,3,\n" + "UNKNOWN,1,EUR,,\n" + "SAID,1,EUR,0,in stock\n"},
		{"jsonl", `{"id":"EMPTY","price":1,"currency":"EUR","stock_quantity":0}` + "\n" +
			`{"id":"SOME","price":1,"currency":"EUR","stock_quantity":"3"}` + "\n" +
			`{"id":"UNKNOWN","price":1,"currency":"EUR"}` + "\n" +
			`{"id":"SAID","price":1,"currency":"EUR","stock_quantity":0,"availability":"in_stock"}` + "\n"},
		{"xml", `<?xml version="1.0"?><rss xmlns:g="http://base.google.com/ns/1.0"><channel>
<item><g:id>EMPTY</g:id><g:price>1 EUR</g:price><g:quantity>0</g:quantity></item>
<item><g:id>SOME</g:id><g:price>1 EUR</g:price><g:quantity>3</g:quantity></item>
<item><g:id>UNKNOWN</g:id><g:price>1 EUR</g:price></item>
<item><g:id>SAID</g:id><g:price>1 EUR</g:price><g:quantity>0</g:quantity><g:availability>in stock</g:availability></item>
</channel></rss>`},
	} {
		t.Run(tc.format, func(t *testing.T) {
			site := "stock-" + tc.format
			if _, err := importString(t, s, site, tc.body); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, p := range currentProducts(t, db, site) {
				got[p.ID] = p.Availability
			}
			want := map[string]string{"EMPTY": "out_of_stock", "SOME": "in_stock", "UNKNOWN": "in_stock", "SAID": "in_stock"}
			for id, av := range want {
				if got[id] != av {
					t.Errorf("%s: availability %q, want %q", id, got[id], av)
				}
			}
		})
	}
}
