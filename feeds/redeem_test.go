package feeds_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// cartOffer is a feed's offer on amp for the cart audience, signed with
// shop's newest key, valid for 24 hours from runFinished.
func cartOffer(t *testing.T, cfg config.Config) string {
	t.Helper()
	shop, _ := cfg.Site("shop")
	token, ok := feeds.SignOffer(shop.OfferKeys, feeds.Offer{Site: "shop", Audience: "cart", Product: "amp",
		Amount: "15.00", SalePrice: "1219.50", ListPrice: "1234.50", Currency: "USD", Rule: "rule-1",
		NotBefore: runFinished.Unix(), Expires: runFinished.Add(24 * time.Hour).Unix()})
	if !ok {
		t.Fatal("no offer key")
	}
	return token
}

type redemptionRow struct {
	Order, Product, Audience, Source string
	Quantity                         uint32
	Revenue, Discount                float64
}

func redemptions(t *testing.T, s *server) []redemptionRow {
	t.Helper()
	rows, err := s.db.Query(context.Background(), `SELECT order_id, product_id, audience, source, quantity, revenue, discount
		FROM v_offer_redemptions WHERE site = 'shop' ORDER BY order_id, product_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []redemptionRow
	for rows.Next() {
		var r redemptionRow
		if err := rows.Scan(&r.Order, &r.Product, &r.Audience, &r.Source, &r.Quantity, &r.Revenue, &r.Discount); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestRedeemAPIRecordsOncePerOrder: a checkout's repeated calls record one
// redemption; bad tokens, other sites' tokens and bad bodies record none.
func TestRedeemAPIRecordsOncePerOrder(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	s.now = runFinished.Add(time.Hour)
	token := cartOffer(t, cfg)
	shop, _ := cfg.Site("shop")
	bundle, _ := feeds.SignOffer(shop.OfferKeys, feeds.Offer{Site: "shop", Audience: "buyers", Product: "cable", BundlePercent: 15,
		Anchor: "amp", ListPrice: "20.00", Currency: "USD", NotBefore: runFinished.Unix(), Expires: runFinished.Add(24 * time.Hour).Unix()})
	auth := []string{"Authorization", "Bearer " + adminToken, "Content-Type", "application/json"}
	post := func(body string, hdr ...string) (int, map[string]any) {
		rec := s.do(http.MethodPost, "/api/offers/redeem", strings.NewReader(body), hdr...)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	body := `{"token":"` + token + `","order_id":"O-1","visitor_id":"v1","quantity":2,"price":1219.5}`
	for i, want := range []bool{true, false, false} {
		code, out := post(body, auth...)
		if code != http.StatusOK || out["recorded"] != want {
			t.Fatalf("call %d: %d %v, want recorded %v", i+1, code, out, want)
		}
		r := out["redemption"].(map[string]any)
		if r["discount"] != 30.0 || r["revenue"] != 2439.0 || r["source"] != "api" {
			t.Errorf("call %d: redemption %v", i+1, r)
		}
	}
	for _, c := range []struct {
		name, body string
		hdr        []string
		want       int
	}{
		{"no admin token", body, nil, http.StatusUnauthorized},
		{"another site's admin token", strings.Replace(body, "O-1", "O-2", 1), []string{"Authorization", "Bearer other-admin-0123456789"}, http.StatusUnauthorized},
		{"no order id", `{"token":"` + token + `"}`, auth, http.StatusBadRequest},
		{"forged token", `{"token":"` + token + `x","order_id":"O-3"}`, auth, http.StatusForbidden},
		{"unknown field", `{"token":"` + token + `","order_id":"O-4","coupon":"x"}`, auth, http.StatusBadRequest},
		{"a bundle price without its anchor", `{"token":"` + bundle + `","order_id":"O-6"}`, auth, http.StatusBadRequest},
		{"before the offer", `{"token":"` + token + `","order_id":"O-5","redeemed_at":"2026-11-26T09:00:00Z"}`, auth, http.StatusForbidden},
	} {
		if code, out := post(c.body, c.hdr...); code != c.want {
			t.Errorf("%s: %d %v, want %d", c.name, code, out, c.want)
		}
	}
	got := redemptions(t, s)
	if len(got) != 1 || got[0] != (redemptionRow{"O-1", "amp", "cart", "api", 2, 2439, 30}) {
		t.Fatalf("redemptions = %+v", got)
	}
}

// purchase stores a purchase event whose properties carry token.
func purchase(t *testing.T, s *server, order, visitor string, at time.Time, token string, lines ...string) {
	t.Helper()
	props, _ := json.Marshal(map[string]string{"rm_offer": token, "coupon": "none"})
	ids, skus, cats, prices, qtys := []string{}, []string{}, []string{}, []float64{}, []uint32{}
	for _, l := range lines {
		ids, skus, cats, prices, qtys = append(ids, l), append(skus, ""), append(cats, ""), append(prices, 1219.5), append(qtys, 1)
	}
	b, err := s.db.PrepareBatch(context.Background(), `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id,
		order_id, currency, items.product_id, items.sku, items.category, items.price, items.quantity, properties)`)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("shop", uuid.New(), at, at, "purchase", visitor, order, "USD", ids, skus, cats, prices, qtys, string(props)); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

// TestPurchasesCarryingOffersAreRedemptions: the sync a segment run does
// finds purchases whose token was valid when they were made and whose
// order holds the offered product, once per order, also when the
// checkout reported it too.
func TestPurchasesCarryingOffersAreRedemptions(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	s.now = runFinished.Add(48 * time.Hour)
	token := cartOffer(t, cfg)
	in := runFinished.Add(2 * time.Hour)
	purchase(t, s, "O-1", "v1", in, token, "amp")
	purchase(t, s, "O-1", "v1", in.Add(time.Minute), token, "amp") // the shop's server sends it too
	purchase(t, s, "O-2", "v2", in, token, "cable")                // bought something else
	purchase(t, s, "O-3", "v3", runFinished.Add(30*time.Hour), token, "amp")
	purchase(t, s, "O-4", "v4", in, "not-a-token", "amp")
	purchase(t, s, "O-5", "v5", in, token, "amp")
	body := `{"token":"` + token + `","order_id":"O-5","redeemed_at":"` + in.Format(time.RFC3339) + `"}`
	if rec := s.do(http.MethodPost, "/api/offers/redeem", strings.NewReader(body), "Authorization", "Bearer "+adminToken); rec.Code != 200 {
		t.Fatalf("redeem: %d %s", rec.Code, rec.Body)
	}
	for range 2 {
		if err := s.api.SyncRedemptions(context.Background(), "shop", s.now); err != nil {
			t.Fatal(err)
		}
	}
	got := redemptions(t, s)
	want := []redemptionRow{{"O-1", "amp", "cart", "event", 1, 1219.5, 15}, {"O-5", "amp", "cart", "api", 1, 1219.5, 15}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("redemptions = %+v, want %+v", got, want)
	}
	var rows uint64
	if err := s.db.QueryRow(context.Background(), "SELECT count() FROM offer_redemptions").Scan(&rows); err != nil || rows != 2 {
		t.Errorf("offer_redemptions holds %d rows (%v), want 2: a sync records only what is new", rows, err)
	}
}

// TestRedeemAPIRefusesAbsurdAmounts: a checkout's price and price ×
// quantity are bounded like ingest bounds an order's, so a redemption's
// revenue is always a number JSON and the lift report can carry; the 400
// names the field and nothing is stored.
func TestRedeemAPIRefusesAbsurdAmounts(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	s.now = runFinished.Add(time.Hour)
	token := cartOffer(t, cfg)
	auth := []string{"Authorization", "Bearer " + adminToken, "Content-Type", "application/json"}
	for _, c := range []struct {
		name, fields, field string
	}{
		{"revenue beyond float64", `"quantity":100000,"price":1e304`, "price:"},
		{"a unit price beyond ingest's bound", `"price":2e9`, "price:"},
		{"a line beyond it", `"quantity":100000,"price":100000`, "price × quantity:"},
		{"too many units", `"quantity":100001,"price":1`, "quantity:"},
		{"a negative price", `"price":-1`, "price:"},
	} {
		body := `{"token":"` + token + `","order_id":"O-big",` + c.fields + `}`
		rec := s.do(http.MethodPost, "/api/offers/redeem", strings.NewReader(body), auth...)
		var out struct{ Error string }
		json.Unmarshal(rec.Body.Bytes(), &out)
		if rec.Code != http.StatusBadRequest || !strings.HasPrefix(out.Error, c.field) {
			t.Errorf("%s: %d %s, want 400 naming %q", c.name, rec.Code, rec.Body, c.field)
		}
	}
	if got := redemptions(t, s); len(got) != 0 {
		t.Errorf("stored %+v", got)
	}
	// The largest line accepted is stored and answered as it was given.
	body := `{"token":"` + token + `","order_id":"O-big","quantity":1000,"price":1000000}`
	if rec := s.do(http.MethodPost, "/api/offers/redeem", strings.NewReader(body), auth...); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"revenue":1000000000`) {
		t.Errorf("a line of 1e9: %d %s", rec.Code, rec.Body)
	}
}

// TestOversizeBodiesAre413: a body over an admin endpoint's limit is
// refused as too large, naming the limit, not cut short and answered as
// malformed JSON.
func TestOversizeBodiesAre413(t *testing.T) {
	s := newServer(t, testConfig(t))
	auth := []string{"Authorization", "Bearer " + adminToken, "Content-Type", "application/json"}
	for _, c := range []struct {
		name, method, path, body, limit string
	}{
		{"discount rules", http.MethodPut, "/api/sites/shop/discounts",
			`{"rules":[{"strategy":"reminder","percent":12,"duration":"48h"}]` + strings.Repeat(" ", 1<<20) + `}`, "1048576 bytes"},
		{"a redemption", http.MethodPost, "/api/offers/redeem",
			`{"order_id":"O-1",` + strings.Repeat(" ", 64<<10) + `"token":"t"}`, "65536 bytes"},
	} {
		rec := s.do(c.method, c.path, strings.NewReader(c.body), auth...)
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), c.limit) {
			t.Errorf("%s over the limit: %d %s, want 413 naming %s", c.name, rec.Code, rec.Body, c.limit)
		}
	}
}

// The redeem API takes the site's admin token, so wrong ones are
// throttled there as on the admin API: an offer from any ad's landing
// URL must not open an unbounded guessing of the admin token.
func TestRedeemAPIThrottlesWrongAdminTokens(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	s.now = runFinished.Add(time.Hour)
	body := `{"token":"` + cartOffer(t, cfg) + `","order_id":"O-1"}`
	post := func(token, client string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/offers/redeem", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.RemoteAddr = client + ":1234"
		rec := httptest.NewRecorder()
		s.h.ServeHTTP(rec, req)
		return rec
	}
	const attacker, shop = "203.0.113.7", "198.51.100.9"
	var codes []int
	for range 50 {
		codes = append(codes, post("guess-0123456789", attacker).Code)
	}
	for i, code := range codes {
		if want := map[bool]int{true: 401, false: 429}[i < httpx.ThrottleBurst]; code != want {
			t.Fatalf("50 wrong admin tokens answered %v, want %d × 401 then 429", codes, httpx.ThrottleBurst)
		}
	}
	if rec := post(adminToken, attacker); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("the right token while throttled: %d %s, want 429 with Retry-After", rec.Code, rec.Body)
	}
	if rec := post(adminToken, shop); rec.Code != http.StatusOK {
		t.Errorf("the shop's server with the right token: %d %s, want 200", rec.Code, rec.Body)
	}
}
