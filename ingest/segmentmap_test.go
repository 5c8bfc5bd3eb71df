package ingest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var testReceipt = receipt{Site: "demo", Received: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), MaxPast: 720 * time.Hour, MaxFuture: 10 * time.Minute}

// mustMessage decodes a JSON call as the collect API would.
func mustMessage(t *testing.T, kind, js string) message {
	t.Helper()
	obj, err := decodeObject([]byte(js))
	if err != nil {
		t.Fatalf("decode %s: %v", js, err)
	}
	m, err := readMessage(obj, kind)
	if err != nil {
		t.Fatalf("read %s: %v", js, err)
	}
	return m
}

func TestCanonicalTypes(t *testing.T) {
	cases := []struct{ call, event, want string }{
		{"track", "Product Viewed", ProductView},
		{"track", "Product List Viewed", ProductListView},
		{"track", "Product List Filtered", ProductListView},
		{"track", "Products Searched", Search},
		{"track", "Product Added", AddToCart},
		{"track", "product removed", RemoveFromCart},
		{"track", "Checkout Started", Checkout},
		{"track", "Order Completed", Purchase},
		{"track", "purchase", Purchase},
		{"track", "Newsletter Signup", Custom},
		{"page", "", PageView},
		{"screen", "", PageView},
		{"identify", "", Identify},
		{"group", "", Custom},
		{"alias", "", Custom},
	}
	for _, c := range cases {
		if got := canonicalType(c.call, c.event); got != c.want {
			t.Errorf("canonicalType(%s, %q) = %s, want %s", c.call, c.event, got, c.want)
		}
	}
}

func TestMapOrderCompleted(t *testing.T) {
	m := mustMessage(t, "track", `{
		"event": "Order Completed", "userId": "u1", "messageId": "m-1",
		"properties": {
			"order_id": "O-17", "revenue": 1349.5, "currency": "eur", "coupon": "SPRING",
			"products": [
				{"product_id": "P1", "sku": "S1", "category": "Cameras>Mirrorless", "name": "Canon R50", "price": 899, "quantity": 1},
				{"id": "P2", "price": "450.50", "quantity": "1"}
			]
		},
		"context": {"page": {"url": "https://shop.example/checkout"}}
	}`)
	ev, errs := mapMessage(m, testReceipt)
	if len(errs) > 0 {
		t.Fatalf("unexpected problems: %v", errs)
	}
	want := Event{
		Type: Purchase, Name: "Order Completed", UserID: "u1", OrderID: "O-17", Revenue: 1349.5, Currency: "EUR",
		ProductID: "P1", SKU: "S1", Category: "Cameras > Mirrorless", Price: 899, Quantity: 1,
		URL: "https://shop.example/checkout",
	}
	if ev.Type != want.Type || ev.Name != want.Name || ev.UserID != want.UserID || ev.OrderID != want.OrderID ||
		ev.Revenue != want.Revenue || ev.Currency != want.Currency || ev.ProductID != want.ProductID ||
		ev.SKU != want.SKU || ev.Category != want.Category || ev.Price != want.Price || ev.Quantity != want.Quantity || ev.URL != want.URL {
		t.Fatalf("mapped\n%+v\nwant\n%+v", ev, want)
	}
	if len(ev.Items) != 2 || ev.Items[1] != (Item{ProductID: "P2", Price: 450.5, Quantity: 1}) {
		t.Fatalf("items = %+v", ev.Items)
	}
	var props map[string]any
	if err := json.Unmarshal([]byte(ev.Properties), &props); err != nil {
		t.Fatalf("properties %q: %v", ev.Properties, err)
	}
	if props["coupon"] != "SPRING" || len(props) != 1 {
		t.Fatalf("unknown properties must be kept, and only those: %v", props)
	}
}

func TestMapPageAndIdentify(t *testing.T) {
	page, _ := mapMessage(mustMessage(t, "page", `{"anonymousId": "a1", "name": "Home",
		"properties": {"url": "https://shop.example/", "referrer": "https://google.com/", "path": "/"}}`), testReceipt)
	if page.Type != PageView || page.URL != "https://shop.example/" || page.Referrer != "https://google.com/" ||
		page.Title != "Home" || page.Properties != `{"path":"/"}` {
		t.Fatalf("page mapped to %+v", page)
	}
	id, _ := mapMessage(mustMessage(t, "identify", `{"userId": 42, "traits": {"email": "Ann@Example.com", "plan": "pro"}}`), testReceipt)
	if id.Type != Identify || id.UserID != "42" || !strings.Contains(id.Traits, `"email":"Ann@Example.com"`) {
		t.Fatalf("identify mapped to %+v", id)
	}
}

// Segment runs read a trait as the first "key": in the stored text
// (ClickHouse 18.16's visitParam functions), so a top-level trait must
// come before any object or array that may hold the same key: Segment's
// reserved address and company traits are objects and sort before email.
func TestTopLevelTraitsComeBeforeNestedOnes(t *testing.T) {
	id, errs := mapMessage(mustMessage(t, "identify", `{"userId": "u1", "traits": {
		"address": {"city": "Oslo", "email": "post@example.com"},
		"company": {"name": "Acme", "email": "billing@acme.example"},
		"email": "ann@example.com", "customer_type": "professional", "age": 41, "vip": true,
		"aliases": ["email", {"email": "old@example.com"}]}}`), testReceipt)
	if len(errs) > 0 {
		t.Fatalf("unexpected problems: %v", errs)
	}
	for key, top := range map[string]string{"email": `"ann@example.com"`, "customer_type": `"professional"`, "age": "41", "vip": "true"} {
		if first, want := strings.Index(id.Traits, `"`+key+`":`), strings.Index(id.Traits, `"`+key+`":`+top); first < 0 || first != want {
			t.Errorf("%s: first %q at %d, the top-level one at %d in %s", key, key, first, want, id.Traits)
		}
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(id.Traits), &back); err != nil || len(back) != 7 {
		t.Fatalf("traits %s do not decode to the 7 traits sent: %v %v", id.Traits, back, err)
	}
	want := `{"age":41,"customer_type":"professional","email":"ann@example.com","vip":true,` +
		`"address":{"city":"Oslo","email":"post@example.com"},"aliases":["email",{"email":"old@example.com"}],` +
		`"company":{"email":"billing@acme.example","name":"Acme"}}`
	if id.Traits != want {
		t.Errorf("traits = %s\nwant     %s", id.Traits, want)
	}
}

func TestMapReportsBrokenFields(t *testing.T) {
	m := mustMessage(t, "track", `{"event": "Product Viewed", "anonymousId": "a",
		"properties": {"product_id": "P1", "price": -5, "currency": "euros", "products": [{"product_id": "P2", "quantity": 1.5}]}}`)
	ev, errs := mapMessage(m, testReceipt)
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	got := strings.Join(fields, ",")
	if got != "properties.currency,properties.price,properties.products[0].quantity" {
		t.Fatalf("problems %q", got)
	}
	if ev.Price != 0 || ev.Currency != "" || strings.Contains(ev.Properties, "price") || strings.Contains(ev.Properties, "euros") {
		t.Fatalf("a broken field must never be stored raw: %+v", ev)
	}
	if ev.ProductID != "P1" {
		t.Fatalf("the valid fields must stay: %+v", ev)
	}
}
