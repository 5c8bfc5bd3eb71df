package ingest

import (
	"bytes"
	"image/gif"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/remarket/remarket/internal/config"
)

// checkGIF asserts the pixel's answer: 200, a 1×1 GIF, not cacheable.
func checkGIF(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/gif" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("pixel answered %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	img, err := gif.Decode(bytes.NewReader([]byte(body)))
	if err != nil || img.Bounds().Dx() != 1 || img.Bounds().Dy() != 1 {
		t.Fatalf("not a 1x1 GIF: %v", err)
	}
}

func rmidCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == visitorCookie {
			return c
		}
	}
	return nil
}

func TestPixelHitStoresOneRowAndSetsCookieOnce(t *testing.T) {
	env := mustCollectEnv(t, nil)
	q := url.Values{
		"k": {"wk_demo"}, "e": {"product_view"}, "pid": {"P1"}, "sku": {"CAN-250D"}, "cat": {"Cameras>DSLR"},
		"price": {"499.90"}, "cur": {"eur"}, "qty": {"1"}, "url": {"https://shop.example/p/1"},
		"title": {"Canon EOS 250D"}, "ref": {"https://google.com/"}, "uid": {"u-1"}, "color": {"black"},
	}
	h := http.Header{"X-Forwarded-For": {"203.0.113.77"}}
	resp, body := env.do(t, "GET", "/p.gif?"+q.Encode(), h, "")
	checkGIF(t, resp, body)
	ck := rmidCookie(resp)
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge < 364*24*3600 || ck.Secure {
		t.Fatalf("first hit must set _rmid (HttpOnly, Lax, 1y, not Secure over http): %+v", ck)
	}

	h.Set("Cookie", visitorCookie+"="+ck.Value)
	resp, body = env.do(t, "GET", "/p.gif?k=wk_demo", h, "")
	checkGIF(t, resp, body)
	if c := rmidCookie(resp); c != nil {
		t.Fatalf("second hit with the cookie set it again: %+v", c)
	}
	env.flush(t)

	rows := env.storedEvents(t, "demo")
	if len(rows) != 2 {
		t.Fatalf("want 2 rows, got %+v", rows)
	}
	var pv, view storedEvent
	for _, r := range rows {
		if r.Type == ProductView {
			pv = r
		} else {
			view = r
		}
	}
	want := storedEvent{Type: ProductView, Name: "product_view", VisitorID: ck.Value, UserID: "u-1", ProductID: "P1",
		Category: "Cameras > DSLR", Currency: "EUR", URL: "https://shop.example/p/1", Title: "Canon EOS 250D",
		Referrer: "https://google.com/", IP: "203.0.113.0", UserAgent: browserUA, Properties: `{"color":"black"}`,
		Price: 499.9, Quantity: 1, EventTime: pv.EventTime, Items: []string{"P1"}}
	if pv.Type != want.Type || pv.Name != want.Name || pv.VisitorID != want.VisitorID || pv.UserID != want.UserID ||
		pv.ProductID != want.ProductID || pv.Category != want.Category || pv.Currency != want.Currency || pv.URL != want.URL ||
		pv.Title != want.Title || pv.Referrer != want.Referrer || pv.IP != want.IP || pv.UserAgent != want.UserAgent ||
		pv.Properties != want.Properties || pv.Price != want.Price || pv.Quantity != want.Quantity ||
		len(pv.Items) != 1 || pv.IsBot != 0 || pv.OptedOut != 0 {
		t.Fatalf("stored\n%+v\nwant\n%+v", pv, want)
	}
	if view.Type != PageView || view.VisitorID != ck.Value {
		t.Fatalf("second hit stored as %+v, want a page_view of the cookie's visitor", view)
	}
	if n := env.countView(t, "demo"); n != 2 {
		t.Fatalf("v_events has %d rows, want 2", n)
	}
}

func TestPixelCookieSecureBehindHTTPSProxy(t *testing.T) {
	env := mustCollectEnv(t, nil)
	resp, _ := env.do(t, "GET", "/p.gif?k=wk_demo", http.Header{"X-Forwarded-Proto": {"https"}}, "")
	if ck := rmidCookie(resp); ck == nil || !ck.Secure {
		t.Fatalf("cookie over HTTPS must be Secure: %+v", ck)
	}
	resp, _ = env.do(t, "GET", "/p.gif?k=wk_demo&vid=site-own-id", nil, "")
	if ck := rmidCookie(resp); ck != nil {
		t.Fatalf("a hit with its own vid must not get a cookie: %+v", ck)
	}
}

func TestPixelHonoursOptOut(t *testing.T) {
	env := mustCollectEnv(t, nil)
	cases := []struct {
		name   string
		query  string
		header http.Header
	}{
		{"gpc", "k=wk_demo&vid=gpc", http.Header{"Sec-Gpc": {"1"}}},
		{"dnt", "k=wk_demo&vid=dnt", http.Header{"Dnt": {"1"}}},
		{"consent flag", "k=wk_demo&vid=consent&c=0", nil},
		{"gpc without vid", "k=wk_demo&e=product_view&pid=P9", http.Header{"Sec-Gpc": {"1"}}},
	}
	for _, c := range cases {
		resp, body := env.do(t, "GET", "/p.gif?"+c.query, c.header, "")
		checkGIF(t, resp, body)
		if ck := rmidCookie(resp); ck != nil {
			t.Fatalf("%s: opted-out visitor got a cookie", c.name)
		}
	}
	env.flush(t)
	rows := env.storedEvents(t, "demo")
	if len(rows) != len(cases) {
		t.Fatalf("want %d rows, got %d", len(cases), len(rows))
	}
	for _, r := range rows {
		if r.OptedOut != 1 {
			t.Fatalf("event of %q stored with opted_out=0", r.VisitorID)
		}
	}
}

func TestPixelNeverErrorsAndCountsRejects(t *testing.T) {
	env := mustCollectEnv(t, func(c *config.Config) { c.Ingest.IPMode = "drop" })
	unknown := counterValue(t, pixelDropped.WithLabelValues("unknown_key"))
	badPrice := counterValue(t, pixelFieldsDropped.WithLabelValues("price"))
	badData := counterValue(t, pixelFieldsDropped.WithLabelValues("data"))
	queries := []string{
		"",
		"k=nope&e=purchase",
		"k=wk_demo&e=product_view&pid=P1&price=-5&vid=v1",
		"k=wk_demo&data=%21%21not-base64&vid=v2",
		"k=wk_demo&vid=v3&url=" + strings.Repeat("x", 100000),
		"k=wk_demo&vid=v4&title=%00%FF%1B",
	}
	for _, q := range queries {
		resp, body := env.do(t, "GET", "/p.gif?"+q, http.Header{"User-Agent": {"curl/8.5.0"}}, "")
		checkGIF(t, resp, body)
	}
	if d := counterValue(t, pixelDropped.WithLabelValues("unknown_key")) - unknown; d != 2 {
		t.Errorf("unknown_key drops counted %v, want 2", d)
	}
	if d := counterValue(t, pixelFieldsDropped.WithLabelValues("price")) - badPrice; d != 1 {
		t.Errorf("price drops counted %v, want 1", d)
	}
	if d := counterValue(t, pixelFieldsDropped.WithLabelValues("data")) - badData; d != 1 {
		t.Errorf("data drops counted %v, want 1", d)
	}
	env.flush(t)
	rows := env.storedEvents(t, "demo")
	if len(rows) != 4 {
		t.Fatalf("want the 4 hits with a known key stored, got %d", len(rows))
	}
	for _, r := range rows {
		if r.Price != 0 || len(r.URL) > maxURL || r.IsBot != 1 || r.IP != "" || strings.ContainsRune(r.Title, 0) {
			t.Fatalf("bad input stored raw or flags wrong: %+v", r)
		}
	}
}

// counterValue reads a counter's current value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
