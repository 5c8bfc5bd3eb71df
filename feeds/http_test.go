package feeds_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func basic(password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte("merchant:"+password))
}

func TestFeedAuth(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.seedHard()
	cases := []struct {
		name, path string
		hdr        []string
		want       int
	}{
		{"no token", "/feeds/shop/cart/google.xml", nil, 401},
		{"wrong token", "/feeds/shop/cart/google.xml?token=nope", nil, 401},
		{"wrong basic password", "/feeds/shop/cart/meta.csv", []string{"Authorization", basic("nope")}, 401},
		{"other site's token", "/feeds/shop/cart/google.xml?token=" + otherFeed, nil, 401},
		{"other site's token, unknown audience", "/feeds/shop/ghost/google.xml?token=" + otherFeed, nil, 401},
		{"no token, unknown site", "/feeds/ghost/cart/google.xml", nil, 401},
		{"token query", "/feeds/shop/cart/google.xml?token=" + feedToken, nil, 200},
		{"basic password", "/feeds/shop/cart/feed.json", []string{"Authorization", basic(feedToken)}, 200},
		{"valid token, unknown audience", "/feeds/shop/ghost/google.xml?token=" + feedToken, nil, 404},
		{"valid token, unknown format", "/feeds/shop/cart/feed.xlsx?token=" + feedToken, nil, 404},
	}
	for _, c := range cases {
		rec := s.get(c.path, c.hdr...)
		if rec.Code != c.want {
			t.Errorf("%s: status %d, want %d: %s", c.name, rec.Code, c.want, rec.Body)
		}
		if c.want == 401 && (strings.Contains(rec.Body.String(), "audience") || rec.Header().Get("WWW-Authenticate") == "") {
			t.Errorf("%s: 401 reveals more than the token: %s", c.name, rec.Body)
		}
	}
}

func TestFeedETagGzipAndRunSwitch(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.seedHard()
	path := "/feeds/shop/cart/google.xml?token=" + feedToken
	first := s.get(path)
	etag := first.Header().Get("ETag")
	if first.Code != 200 || etag == "" || first.Header().Get("Last-Modified") != "Thu, 26 Nov 2026 10:00:00 GMT" {
		t.Fatalf("first fetch %d, ETag %q, Last-Modified %q", first.Code, etag, first.Header().Get("Last-Modified"))
	}
	again := s.get(path, "If-None-Match", etag)
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Fatalf("unchanged feed: status %d with %d bytes, want 304", again.Code, again.Body.Len())
	}

	zipped := s.get(path, "Accept-Encoding", "gzip, deflate")
	if zipped.Header().Get("Content-Encoding") != "gzip" || zipped.Header().Get("ETag") == etag {
		t.Fatalf("gzip: encoding %q, etag %q", zipped.Header().Get("Content-Encoding"), zipped.Header().Get("ETag"))
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, first.Body.Bytes()) {
		t.Fatal("gzip body differs from the plain feed")
	}
	if s.get(path, "Accept-Encoding", "gzip;q=0").Header().Get("Content-Encoding") != "" {
		t.Fatal("gzip sent although q=0")
	}

	// Another minute, same run, no window edge: same bytes, same ETag.
	s.now = s.now.Add(time.Minute)
	if rec := s.get(path, "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Fatalf("same run a minute later: %d", rec.Code)
	}
	// The 48h upsell offer ends: the feed changes although the run did not.
	s.now = runFinished.Add(48 * time.Hour)
	if rec := s.get(path, "If-None-Match", etag); rec.Code != 200 || rec.Header().Get("ETag") == etag ||
		rec.Header().Get("Last-Modified") != "Sat, 28 Nov 2026 10:00:00 GMT" {
		t.Fatalf("after an offer ended: %d, Last-Modified %q", rec.Code, rec.Header().Get("Last-Modified"))
	}

	// A new run becomes current: new ETag, and its rows only.
	s.fx.db.Exec(t.Context(), "ALTER TABLE v_current_runs DELETE WHERE run_id = 'r1'")
	s.fx.run("shop", "r2", runFinished.Add(time.Hour), "cart", 1)
	s.fx.list("shop", "r2", "cart", listed{Product: "old", Strategy: "upsell", Reason: "Only this", Rank: 1})
	waitFor(t, func() bool {
		rec := s.get(path)
		return rec.Header().Get("X-Segment-Run") == "r2"
	})
	rec := s.get(path)
	if rec.Header().Get("ETag") == etag || rec.Header().Get("X-Feed-Items") != "1" || !strings.Contains(rec.Body.String(), "<g:id>old</g:id>") {
		t.Fatalf("after the run switch: %s items, body %.300s", rec.Header().Get("X-Feed-Items"), rec.Body)
	}
}

// waitFor polls cond with a deadline (ALTER ... DELETE is asynchronous).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFeedWithoutRunIs503(t *testing.T) {
	s := newServer(t, testConfig(t))
	if rec := s.get("/feeds/shop/cart/google.xml?token=" + feedToken); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestJSONFeed(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.seedHard()
	rec := s.get("/feeds/shop/cart/feed.json?token=" + feedToken)
	var doc struct {
		Site, Audience string
		RunID          string `json:"run_id"`
		Items          []map[string]any
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("feed.json: %v: %.300s", err, rec.Body)
	}
	if doc.Site != "shop" || doc.RunID != "r1" || len(doc.Items) != 5 || doc.Items[0]["offer_token"] == nil {
		t.Fatalf("feed.json = %+v", doc)
	}
}

// Concurrent first fetches share one generation and get the same bytes.
func TestConcurrentColdFetchesGenerateOnce(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.seedHard()
	const n = 16
	type result struct {
		code        int
		cache, etag string
		body        []byte
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func() {
			rec := s.get("/feeds/shop/cart/meta.csv?token=" + feedToken)
			results <- result{rec.Code, rec.Header().Get("X-Cache"), rec.Header().Get("ETag"), rec.Body.Bytes()}
		}()
	}
	misses := 0
	var first result
	for i := 0; i < n; i++ {
		r := <-results
		if r.code != 200 {
			t.Fatalf("status %d", r.code)
		}
		if r.cache == "miss" {
			misses++
		}
		if i == 0 {
			first = r
		} else if r.etag != first.etag || !bytes.Equal(r.body, first.body) {
			t.Fatal("concurrent fetches got different feeds")
		}
	}
	if misses != 1 {
		t.Fatalf("%d of %d concurrent fetches generated the feed, want 1", misses, n)
	}
}
