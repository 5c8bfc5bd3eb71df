package ingest

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParsePixelQuery(t *testing.T) {
	q, _ := url.ParseQuery("k=wk_demo&e=product_view&url=https%3A%2F%2Fshop.example%2Fp%2F1&ref=https%3A%2F%2Fgoogle.com" +
		"&title=Canon&pid=P1&sku=S1&cat=Cameras+%3E+DSLR&price=499.90&cur=eur&qty=1&vid=v1&uid=u1&eid=e-1" +
		"&ts=1714564795000&st=1714564800000&color=red&_=123")
	h := parsePixelQuery(q, 32<<10)
	if len(h.Problems) > 0 {
		t.Fatalf("problems: %v", h.Problems)
	}
	r := testReceipt
	r.Received = time.UnixMilli(1714564800000 + 2000).UTC() // 2s of network
	ev, errs := mapMessage(h.Msg, r)
	if len(errs) > 0 || h.Key != "wk_demo" {
		t.Fatalf("key %q problems %v", h.Key, errs)
	}
	if ev.Type != ProductView || ev.ProductID != "P1" || ev.SKU != "S1" || ev.Category != "Cameras > DSLR" ||
		ev.Price != 499.9 || ev.Currency != "EUR" || ev.Quantity != 1 || ev.VisitorID != "v1" || ev.UserID != "u1" ||
		ev.URL != "https://shop.example/p/1" || ev.Referrer != "https://google.com" || ev.Title != "Canon" {
		t.Fatalf("pixel mapped to %+v", ev)
	}
	if want := r.Received.Add(-5 * time.Second); !ev.Time.Equal(want) {
		t.Fatalf("time %v, want %v (client clock corrected)", ev.Time, want)
	}
	if ev.Properties != `{"color":"red"}` {
		t.Fatalf("extra parameters kept as %q", ev.Properties)
	}
}

func TestParsePixelDefaultsAndLists(t *testing.T) {
	h := parsePixelQuery(url.Values{"k": {"wk"}}, 32<<10)
	if ev, _ := mapMessage(h.Msg, testReceipt); ev.Type != PageView {
		t.Fatalf("a bare hit is %s, want page_view", ev.Type)
	}
	h = parsePixelQuery(url.Values{"k": {"wk"}, "e": {"purchase"}, "pid": {"A,B,,C"}, "oid": {"O1"}, "rev": {"30"}}, 32<<10)
	ev, _ := mapMessage(h.Msg, testReceipt)
	if ev.Type != Purchase || len(ev.Items) != 3 || ev.ProductID != "A" || ev.OrderID != "O1" || ev.Revenue != 30 {
		t.Fatalf("order hit mapped to %+v", ev)
	}
}

func TestParsePixelData(t *testing.T) {
	data := base64.RawURLEncoding.EncodeToString([]byte(`{"writeKey":"wk_data","event":"Product Added",
		"anonymousId":"a9","properties":{"product_id":"P7","price":20}}`))
	h := parsePixelQuery(url.Values{"data": {data}, "qty": {"2"}}, 32<<10)
	ev, errs := mapMessage(h.Msg, testReceipt)
	if h.Key != "wk_data" || len(errs) > 0 || ev.Type != AddToCart || ev.ProductID != "P7" || ev.Price != 20 || ev.Quantity != 2 || ev.VisitorID != "a9" {
		t.Fatalf("data hit: key %q, %+v, %v", h.Key, ev, errs)
	}
	h = parsePixelQuery(url.Values{"k": {"wk"}, "data": {"%%%not base64"}}, 32<<10)
	if len(h.Problems) != 1 || h.Problems[0].Field != "data" {
		t.Fatalf("bad data must be one dropped field, got %v", h.Problems)
	}
	h = parsePixelQuery(url.Values{"k": {"wk"}, "data": {data}}, 10)
	if len(h.Problems) != 1 || h.Problems[0].Field != "data" {
		t.Fatalf("bad data must be one dropped field, got %v", h.Problems)
	}
}

func TestParsePixelDropsBadFields(t *testing.T) {
	h := parsePixelQuery(url.Values{"k": {"wk"}, "e": {"product_view"}, "pid": {"P1"}, "price": {"-3"},
		"qty": {"lots"}, "ts": {"yesterday"}, "url": {strings.Repeat("u", 10<<20)}, "title": {"A\x00\xffB"}}, 32<<10)
	ev, errs := mapMessage(h.Msg, testReceipt)
	var fields []string
	for _, p := range append(h.Problems, errs...) {
		fields = append(fields, metricField(p.Field))
	}
	if got := strings.Join(fields, ","); got != "ts,price,quantity" {
		t.Fatalf("dropped fields %q", got)
	}
	if ev.Price != 0 || ev.Quantity != 0 || len(ev.URL) != maxURL || ev.Title != "A\uFFFDB" || ev.ProductID != "P1" {
		t.Fatalf("pixel kept %+v", ev)
	}
}

// FuzzPixelQuery: whatever the query, parsing and mapping must not panic
// and must only produce clean, capped values.
func FuzzPixelQuery(f *testing.F) {
	for _, seed := range []string{
		"k=wk_demo",
		"k=wk_demo&e=product_view&pid=P1&price=499.90&cur=EUR&qty=1&cat=A+%3E+B",
		"k=wk&e=purchase&pid=A,B,C&oid=O1&rev=12.5&ts=1714564795000&st=1714564800000",
		"k=wk&data=eyJldmVudCI6IlByb2R1Y3QgVmlld2VkIiwicHJvcGVydGllcyI6eyJwcmljZSI6MX19",
		"k=wk&price=NaN&qty=-1&ts=-5&cur=%00%FF&title=%C0%AF&url=%0A%0D",
		"k=wk&data=e30&e=&pid=,,,&x=1&_=2",
		"%zz&&==&k",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		h := parsePixelQuery(q, 32<<10)
		ev, _ := mapMessage(h.Msg, testReceipt)
		for name, s := range map[string]string{"url": ev.URL, "title": ev.Title, "vid": ev.VisitorID, "pid": ev.ProductID, "cat": ev.Category, "cur": ev.Currency} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("%s not clean: %q", name, s)
			}
		}
		if len(ev.URL) > maxURL || len(ev.Title) > maxTitle || len(ev.VisitorID) > maxID || ev.Price < 0 || ev.Price > maxAmount {
			t.Fatalf("caps broken: %+v", ev)
		}
		if ev.Time.Before(testReceipt.Received.Add(-testReceipt.MaxPast)) || ev.Time.After(testReceipt.Received.Add(testReceipt.MaxFuture)) {
			t.Fatalf("time %v outside the window", ev.Time)
		}
	})
}
