package ingest

import (
	"net/http"
	"testing"
)

// TestServerSideCallsAreJudgedByContextUserAgent: a backend posting an
// order with a plain HTTP client is not a bot, because its user agent is
// not the shopper's; context.userAgent, when sent, is judged whoever sent
// it; a browser's request (it carries Origin) is judged by its own user
// agent when the event has none.
func TestServerSideCallsAreJudgedByContextUserAgent(t *testing.T) {
	env := mustCollectEnv(t, nil)
	const goClient = "Go-http-client/1.1"
	cases := []struct {
		vid, context string
		header       http.Header
		bot          uint8
		ua           string
	}{
		{"server-order", `{}`, jsonHeader("User-Agent", goClient), 0, ""},
		{"server-curl", `{}`, jsonHeader("User-Agent", "curl/8.5.0"), 0, ""},
		{"server-with-shopper-ua", `{"userAgent": "` + browserUA + `"}`, jsonHeader("User-Agent", goClient), 0, browserUA},
		{"server-with-bot-ua", `{"userAgent": "Googlebot/2.1"}`, jsonHeader("User-Agent", goClient), 1, "Googlebot/2.1"},
		{"browser-headless", `{}`, jsonHeader("User-Agent", "Mozilla/5.0 HeadlessChrome/124.0", "Origin", "https://shop.example"), 1, "Mozilla/5.0 HeadlessChrome/124.0"},
		{"browser-fetch-metadata", `{}`, jsonHeader("User-Agent", "python-requests/2.31", "Sec-Fetch-Site", "cross-site"), 1, "python-requests/2.31"},
		{"browser", `{}`, jsonHeader("User-Agent", browserUA, "Origin", "https://shop.example"), 0, browserUA},
	}
	want := map[string]int{}
	for i, c := range cases {
		body := `{"writeKey": "wk_open", "anonymousId": "` + c.vid + `", "event": "Order Completed", "properties": {"order_id": "O1", "revenue": 10}, "context": ` + c.context + `}`
		if resp, got := env.do(t, "POST", "/v1/track", c.header, body); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", c.vid, resp.StatusCode, got)
		}
		want[c.vid] = i
	}
	env.flush(t)
	rows := env.storedEvents(t, "open")
	if len(rows) != len(cases) {
		t.Fatalf("stored %d events, want %d", len(rows), len(cases))
	}
	for _, r := range rows {
		c := cases[want[r.VisitorID]]
		if r.IsBot != c.bot || r.UserAgent != c.ua {
			t.Errorf("%s: stored is_bot=%d user_agent %q, want %d %q", c.vid, r.IsBot, r.UserAgent, c.bot, c.ua)
		}
	}
}
