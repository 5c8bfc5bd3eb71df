package feeds_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// A discount rule changed through the admin API changes the feed of the
// same run and catalog: Last-Modified moves to the change (rounded up to
// the second), so a fetcher validating with If-Modified-Since alone gets
// the new feed, and every instance gives the same validators.
func TestRuleChangeMovesLastModified(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	s.seedHard()
	path := "/feeds/shop/cart/google.xml?token=" + feedToken
	before := s.get(path)
	lm := before.Header().Get("Last-Modified")
	s.now = s.now.Add(250 * time.Millisecond) // 11:00:00.25
	if rec := s.do(http.MethodPut, "/api/sites/shop/discounts",
		strings.NewReader(`{"rules":[{"strategy":"upsell","percent":20,"duration":"24h"}]}`),
		"Authorization", "Bearer "+adminToken); rec.Code != 200 {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	s.now = s.now.Add(time.Minute)
	after := s.get(path)
	if after.Body.String() == before.Body.String() {
		t.Fatal("the rule change did not change the feed")
	}
	if after.Header().Get("ETag") == before.Header().Get("ETag") {
		t.Errorf("same ETag after the rule change")
	}
	if got := after.Header().Get("Last-Modified"); got != "Thu, 26 Nov 2026 11:00:01 GMT" {
		t.Errorf("Last-Modified %q (before the change %q), want the change rounded up to the second", got, lm)
	}
	if rec := s.get(path, "If-Modified-Since", lm); rec.Code != 200 || rec.Body.String() != after.Body.String() {
		t.Errorf("If-Modified-Since %s: %d, want 200 with the new feed", lm, rec.Code)
	}
	if rec := s.get(path, "If-Modified-Since", after.Header().Get("Last-Modified")); rec.Code != http.StatusNotModified {
		t.Errorf("If-Modified-Since the new Last-Modified: %d, want 304", rec.Code)
	}
	other := newServerOn(t, cfg, s).get(path)
	if other.Header().Get("ETag") != after.Header().Get("ETag") || other.Header().Get("Last-Modified") != after.Header().Get("Last-Modified") ||
		other.Body.String() != after.Body.String() {
		t.Errorf("another instance: ETag %s, Last-Modified %q; this one %s, %q", other.Header().Get("ETag"),
			other.Header().Get("Last-Modified"), after.Header().Get("ETag"), after.Header().Get("Last-Modified"))
	}
}
