package ingest

import (
	"fmt"
	"net/http"
	"testing"
)

// TestTunnelledIPv4IsTruncatedLikeIPv4: a 6to4 or Teredo address, from
// context.ip or the proxy's X-Forwarded-For, is stored as its IPv4's /24,
// not as a /48 that still holds the whole IPv4 address.
func TestTunnelledIPv4IsTruncatedLikeIPv4(t *testing.T) {
	env := mustCollectEnv(t, nil)
	want := map[string]string{
		"api-6to4":   "203.0.113.0",
		"api-teredo": "192.0.2.0",
		"pixel-6to4": "198.51.100.0",
	}
	for vid, ip := range map[string]string{"api-6to4": "2002:cb00:714d:1::1", "api-teredo": "2001:0:4136:e378:8000:63bf:3fff:fdd2"} {
		body := fmt.Sprintf(`{"writeKey": "wk_open", "anonymousId": %q, "event": "Product Viewed", "context": {"ip": %q}}`, vid, ip)
		if resp, got := env.do(t, "POST", "/v1/track", jsonHeader(), body); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", vid, resp.StatusCode, got)
		}
	}
	// The test server's peer is loopback, a trusted proxy.
	resp, got := env.do(t, "GET", "/p.gif?k=wk_open&vid=pixel-6to4", http.Header{"X-Forwarded-For": {"2002:c633:6405::7"}}, "")
	checkGIF(t, resp, got)
	env.flush(t)
	rows := env.storedEvents(t, "open")
	if len(rows) != len(want) {
		t.Fatalf("stored %d events, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		if r.IP != want[r.VisitorID] {
			t.Errorf("%s: stored ip %q, want %q", r.VisitorID, r.IP, want[r.VisitorID])
		}
	}
}
