package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/config"
)

func jsonHeader(extra ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

func basicAuth(key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"))
}

// mixedBatch has one call of every kind, with fixed message ids.
const mixedBatch = `{"writeKey": "wk_open", "sentAt": "%[1]s", "batch": [
	{"type": "page", "messageId": "m-page", "anonymousId": "a1", "name": "Home", "timestamp": "%[1]s",
	 "properties": {"url": "https://shop.example/", "title": "Shop"}},
	{"type": "track", "messageId": "m-view", "anonymousId": "a1", "event": "Product Viewed", "timestamp": "%[1]s",
	 "properties": {"product_id": "P1", "price": 499.9, "currency": "EUR", "category": "Cameras > DSLR", "brand": "Canon"}},
	{"type": "track", "messageId": "7d444840-9dc0-11d1-b245-5ffdce74fad2", "anonymousId": "a1", "event": "Product Added",
	 "properties": {"product_id": "P1", "price": 499.9, "quantity": 1}},
	{"type": "identify", "messageId": "m-id", "anonymousId": "a1", "userId": "u1", "traits": {"email": "ann@example.com"}},
	{"type": "track", "messageId": "m-order", "userId": "u1", "event": "Order Completed",
	 "properties": {"order_id": "O1", "revenue": 549.8, "currency": "EUR",
	   "products": [{"product_id": "P1", "price": 499.9, "quantity": 1}, {"product_id": "P5", "price": 49.9, "quantity": 1}]}},
	{"type": "screen", "messageId": "m-screen", "anonymousId": "a1", "name": "Cart"},
	{"type": "group", "messageId": "m-group", "userId": "u1", "groupId": "acme"},
	{"type": "alias", "messageId": "m-alias", "previousId": "a1", "userId": "u1"},
	{"type": "track", "messageId": "m-custom", "userId": "u1", "event": "Newsletter Signup"}
]}`

func TestCollectBatchOfMixedTypesCountedOnce(t *testing.T) {
	env := mustCollectEnv(t, nil)
	body := fmt.Sprintf(mixedBatch, time.Now().UTC().Format(time.RFC3339Nano))
	for i := 0; i < 2; i++ { // the second send is a client retry
		resp, got := env.do(t, "POST", "/v1/batch", jsonHeader(), body)
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(got) != `{"success":true}` {
			t.Fatalf("send %d: %d %s", i, resp.StatusCode, got)
		}
		env.flush(t)
	}
	if n := env.countView(t, "open"); n != 9 {
		t.Fatalf("v_events counts %d events, want 9 (each id once)", n)
	}
	types := map[string]storedEvent{}
	for _, r := range env.storedEvents(t, "open") {
		types[r.Type+"/"+r.Name] = r
	}
	for _, want := range []string{"page_view/Home", "product_view/Product Viewed", "add_to_cart/Product Added",
		"identify/", "purchase/Order Completed", "page_view/Cart", "custom/group", "custom/alias", "custom/Newsletter Signup"} {
		if _, ok := types[want]; !ok {
			t.Errorf("no %s event stored; have %v", want, keys(types))
		}
	}
	order := types["purchase/Order Completed"]
	if order.Revenue != 549.8 || order.OrderID != "O1" || len(order.Items) != 2 || order.ProductID != "P1" {
		t.Errorf("order stored as %+v", order)
	}
	if v := types["product_view/Product Viewed"]; v.Properties != `{"brand":"Canon"}` || v.Category != "Cameras > DSLR" {
		t.Errorf("product view stored as %+v", v)
	}
	if id := types["identify/"]; !strings.Contains(id.Traits, "ann@example.com") || id.UserID != "u1" {
		t.Errorf("identify stored as %+v", id)
	}
}

func keys(m map[string]storedEvent) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestCollectRoutesAndWriteKeys(t *testing.T) {
	env := mustCollectEnv(t, nil)
	track := `{"event": "Product Viewed", "anonymousId": "a", "properties": {"product_id": "P1"}}`
	cases := []struct {
		name, path string
		header     http.Header
		body       string
	}{
		{"basic auth", "/v1/track", jsonHeader("Authorization", basicAuth("wk_open")), track},
		{"header key, short path", "/v1/t", jsonHeader("X-Write-Key", "wk_open"), track},
		{"body key, text/plain", "/v1/track", http.Header{"Content-Type": {"text/plain;charset=UTF-8"}}, `{"writeKey": "wk_open", "event": "x", "userId": "u"}`},
		{"page short", "/v1/p", jsonHeader("X-Write-Key", "wk_open"), `{"anonymousId": "a", "name": "Home"}`},
		{"identify short", "/v1/i", jsonHeader("X-Write-Key", "wk_open"), `{"userId": "u", "traits": {"plan": "pro"}}`},
		{"screen short", "/v1/s", jsonHeader("X-Write-Key", "wk_open"), `{"anonymousId": "a", "name": "Cart"}`},
		{"group short", "/v1/g", jsonHeader("X-Write-Key", "wk_open"), `{"userId": "u", "groupId": "g"}`},
		{"alias short", "/v1/a", jsonHeader("X-Write-Key", "wk_open"), `{"userId": "u", "previousId": "a"}`},
		{"batch short", "/v1/b", jsonHeader("X-Write-Key", "wk_open"), `{"batch": [{"type": "track", "event": "x", "userId": "u"}]}`},
		{"allowed origin", "/v1/t", jsonHeader("X-Write-Key", "wk_demo", "Origin", "https://shop.example"), track},
		{"gzip batch", "/v1/batch", jsonHeader("X-Write-Key", "wk_open", "Content-Encoding", "gzip"),
			gzipped(`{"batch": [{"type": "track", "event": "x", "userId": "u"}]}`)},
	}
	for _, c := range cases {
		resp, body := env.do(t, "POST", c.path, c.header, c.body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", c.name, resp.StatusCode, body)
		}
	}
	env.flush(t)
	if n := env.countView(t, "open") + env.countView(t, "demo"); n != uint64(len(cases)) {
		t.Fatalf("stored %d events, want %d", n, len(cases))
	}
}

func TestCollectRefusesBadRequests(t *testing.T) {
	env := mustCollectEnv(t, func(c *config.Config) {
		c.Ingest.MaxEventBytes = 2000
		c.Ingest.MaxRequestBytes = 6000
	})
	key := jsonHeader("X-Write-Key", "wk_open")
	old := time.Now().AddDate(-3, 0, 0).UTC().Format(time.RFC3339)
	big := strings.Repeat("x", 2100)
	long := strings.Repeat("v", 200) + "-alice" // cut to 200 it would be any other long id's
	var many []string
	for i := 0; i < 5; i++ {
		many = append(many, fmt.Sprintf(`{"type":"track","event":"e","userId":"u","properties":{"pad":"%s"}}`, strings.Repeat("y", 1500)))
	}
	cases := []struct {
		name, path string
		header     http.Header
		body       string
		status     int
		message    string
	}{
		{"bad JSON", "/v1/track", key, `{"event": "x", `, 400, "bad JSON"},
		{"not an object", "/v1/track", key, `"hello"`, 400, "bad JSON"},
		{"missing ids", "/v1/track", key, `{"event": "x"}`, 400, "missing userId or anonymousId"},
		{"missing event", "/v1/track", key, `{"userId": "u"}`, 400, "missing event"},
		{"bad timestamp", "/v1/track", key, `{"userId": "u", "event": "x", "timestamp": "last tuesday"}`, 400, "timestamp: bad timestamp"},
		{"timestamp years away", "/v1/track", key, `{"userId": "u", "event": "x", "timestamp": "` + old + `"}`, 400, "timestamp: "},
		{"negative price", "/v1/track", key, `{"userId": "u", "event": "Product Viewed", "properties": {"price": -1}}`, 400, "properties.price"},
		{"NaN-ish price", "/v1/track", key, `{"userId": "u", "event": "Product Viewed", "properties": {"price": "NaN"}}`, 400, "properties.price"},
		{"bad currency", "/v1/track", key, `{"userId": "u", "event": "x", "properties": {"currency": "euro"}}`, 400, "properties.currency"},
		{"over-long messageId", "/v1/track", key, `{"userId": "u", "event": "x", "messageId": "` + strings.Repeat("m", 101) + `"}`, 400, "messageId"},
		{"over-long messageId in characters", "/v1/track", key, `{"userId": "u", "event": "x", "messageId": "` + strings.Repeat("順", 101) + `"}`, 400, "messageId: longer than 100 characters"},
		{"nil UUID messageId", "/v1/track", key, `{"userId": "u", "event": "x", "messageId": "00000000-0000-0000-0000-000000000000"}`, 400, "messageId: the nil UUID"},
		{"over-long anonymousId", "/v1/track", key, `{"anonymousId": "` + long + `", "event": "x"}`, 400, "anonymousId: longer than 200 bytes"},
		{"over-long userId", "/v1/track", key, `{"userId": "` + long + `", "event": "x"}`, 400, "userId: longer than 200 bytes"},
		{"over-long order_id", "/v1/track", key, `{"userId": "u", "event": "Order Completed", "properties": {"order_id": "` + long + `"}}`, 400, "properties.order_id: longer than 200 bytes"},
		{"over-long product_id", "/v1/track", key, `{"userId": "u", "event": "Order Completed", "properties": {"products": [{"product_id": "P1"}, {"product_id": "` + long + `"}]}}`, 400, "properties.products[1].product_id: longer than 200 bytes"},
		{"over-long sku", "/v1/track", key, `{"userId": "u", "event": "Product Viewed", "properties": {"sku": "` + long + `"}}`, 400, "properties.sku: longer than 200 bytes"},
		{"batch of two write keys", "/v1/batch", jsonHeader(), `{"batch": [{"type": "track", "event": "x", "userId": "u", "writeKey": "wk_open"}, {"type": "track", "event": "x", "userId": "u", "writeKey": "wk_demo"}]}`, 401, "batch[1]: writeKey differs"},
		{"batch key unlike the header's", "/v1/batch", key, `{"batch": [{"type": "track", "event": "x", "userId": "u", "writeKey": "wk_nope"}]}`, 401, "batch[0]: writeKey differs"},
		{"deflate", "/v1/track", jsonHeader("X-Write-Key", "wk_open", "Content-Encoding", "deflate"), `{"userId": "u", "event": "x"}`, 415, `unsupported Content-Encoding "deflate"`},
		{"brotli", "/v1/track", jsonHeader("X-Write-Key", "wk_open", "Content-Encoding", "br"), `{"userId": "u", "event": "x"}`, 415, `unsupported Content-Encoding "br"`},
		{"batch element named", "/v1/batch", key, `{"batch": [{"type": "track", "event": "x", "userId": "u"}, {"type": "track", "userId": "u"}]}`, 400, "batch[1]: missing event"},
		{"batch unknown type", "/v1/batch", key, `{"batch": [{"type": "purchase", "userId": "u"}]}`, 400, `batch[0]: type: unknown type "purchase"`},
		{"form content type", "/v1/track", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Write-Key": {"wk_open"}}, `a=b`, 400, "unsupported Content-Type"},
		{"unknown key", "/v1/track", jsonHeader("Authorization", basicAuth("wk_nope")), `{"userId": "u", "event": "x"}`, 401, "unknown write key"},
		{"unknown body key", "/v1/track", jsonHeader(), `{"writeKey": "wk_nope", "userId": "u", "event": "x"}`, 401, "unknown write key"},
		{"missing key", "/v1/track", jsonHeader(), `{"userId": "u", "event": "x"}`, 401, "missing write key"},
		{"foreign origin", "/v1/track", jsonHeader("X-Write-Key", "wk_demo", "Origin", "https://evil.example"), `{"userId": "u", "event": "x"}`, 403, "origin"},
		{"event too large", "/v1/track", key, `{"userId": "u", "event": "x", "properties": {"pad": "` + big + `"}}`, 413, "max_event_bytes"},
		{"batch event too large", "/v1/batch", key, `{"batch": [{"type": "track", "userId": "u", "event": "x", "properties": {"pad": "` + big + `"}}]}`, 413, "batch[0]: event is"},
		{"request too large", "/v1/batch", key, `{"batch": [` + strings.Join(many, ",") + `]}`, 413, "max_request_bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := env.do(t, "POST", c.path, c.header, c.body)
			var e struct{ Error string }
			json.Unmarshal([]byte(body), &e)
			if resp.StatusCode != c.status || !strings.Contains(e.Error, c.message) {
				t.Fatalf("got %d %s, want %d with %q", resp.StatusCode, body, c.status, c.message)
			}
		})
	}
	env.flush(t)
	if n := env.countView(t, "open") + env.countView(t, "demo"); n != 0 {
		t.Fatalf("refused requests stored %d events", n)
	}
}

func TestCollectSpoolFullAnswers429(t *testing.T) {
	env := mustCollectEnv(t, func(c *config.Config) { c.Spool.MaxBytes = 1 })
	resp, body := env.do(t, "POST", "/v1/track", jsonHeader("X-Write-Key", "wk_open"), `{"userId": "u", "event": "x"}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("full spool answered %d %s (Retry-After %q)", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	before := counterValue(t, pixelDropped.WithLabelValues("spool_full"))
	resp, gifBody := env.do(t, "GET", "/p.gif?k=wk_open", nil, "")
	checkGIF(t, resp, gifBody)
	if counterValue(t, pixelDropped.WithLabelValues("spool_full")) != before+1 {
		t.Fatal("the pixel's drop at a full spool was not counted")
	}
}

func TestCollectCorrectsClockSkew(t *testing.T) {
	env := mustCollectEnv(t, nil)
	now := time.Now().UTC()
	skew := 3 * time.Hour // the client's clock is 3 hours fast
	body := fmt.Sprintf(`{"batch": [{"type": "track", "event": "x", "userId": "u", "timestamp": %q}], "sentAt": %q}`,
		now.Add(skew-time.Minute).Format(time.RFC3339Nano), now.Add(skew).Format(time.RFC3339Nano))
	resp, got := env.do(t, "POST", "/v1/batch", jsonHeader("X-Write-Key", "wk_open"), body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
	env.flush(t)
	rows := env.storedEvents(t, "open")
	if len(rows) != 1 {
		t.Fatalf("want 1 row, got %d", len(rows))
	}
	want := now.Add(-time.Minute)
	if d := rows[0].EventTime.Sub(want); d < -3*time.Second || d > 3*time.Second {
		t.Fatalf("event_time %v, want about %v (skew-corrected)", rows[0].EventTime, want)
	}
}

func TestCollectCORS(t *testing.T) {
	env := mustCollectEnv(t, func(c *config.Config) { c.Sites = c.Sites[:1] }) // only demo: https://shop.example
	pre := http.Header{"Origin": {"https://shop.example"}, "Access-Control-Request-Method": {"POST"},
		"Access-Control-Request-Headers": {"content-type,authorization"}}
	resp, _ := env.do(t, "OPTIONS", "/v1/batch", pre, "")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight from an allowed origin: %d %v", resp.StatusCode, resp.Header)
	}
	pre.Set("Origin", "https://evil.example")
	resp, _ = env.do(t, "OPTIONS", "/v1/t", pre, "")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from a foreign origin allowed: %v", resp.Header)
	}
	resp, _ = env.do(t, "POST", "/v1/t", http.Header{"Origin": {"https://shop.example"}, "Content-Type": {"text/plain"}},
		`{"writeKey": "wk_demo", "event": "x", "anonymousId": "a"}`)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Fatalf("simple CORS post: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestCollectSettingsDocument(t *testing.T) {
	env := mustCollectEnv(t, func(c *config.Config) { c.PublicURL = "https://t.shop.example" })
	resp, body := env.do(t, "GET", "/v1/projects/wk_demo/settings", nil, "")
	var doc struct {
		Integrations map[string]struct {
			APIKey   string `json:"apiKey"`
			APIHost  string `json:"apiHost"`
			Protocol string `json:"protocol"`
		}
		Plan map[string]any
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("settings: %d %s %v", resp.StatusCode, body, err)
	}
	seg := doc.Integrations["Segment.io"]
	if seg.APIKey != "wk_demo" || seg.APIHost != "t.shop.example/v1" || seg.Protocol != "https" || doc.Plan["track"] == nil {
		t.Fatalf("settings document %s", body)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("settings must be readable from any page: %v", resp.Header)
	}
	if resp, _ := env.do(t, "GET", "/v1/projects/wk_nope/settings", nil, ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown key settings: %d", resp.StatusCode)
	}
}

func TestSnippetServed(t *testing.T) {
	env := mustCollectEnv(t, nil)
	resp, body := env.do(t, "GET", "/t.js", nil, "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/javascript") {
		t.Fatalf("t.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"sendBeacon", "keepalive", "/p.gif?k=", "'/v1/'", "remarket.q"} {
		if !strings.Contains(body, want) {
			t.Errorf("t.js lacks %q", want)
		}
	}
	html := SnippetHTML("https://t.shop.example", "wk_demo")
	for _, want := range []string{`src="https://t.shop.example/t.js?k=wk_demo"`, `<noscript><img src="https://t.shop.example/p.gif?k=wk_demo"`} {
		if !strings.Contains(html, want) {
			t.Errorf("snippet HTML lacks %q:\n%s", want, html)
		}
	}
}
