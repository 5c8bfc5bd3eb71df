package feeds_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/feeds"
)

// A catalog import between two segment runs changes the prices every
// feed of the current run shows. These tests hold the run fixed and
// switch the catalog, or change the discount rules, and check what the
// HTTP validators say.

// reimportHard replaces site shop's catalog by the hard catalog with
// product amp at 999.00 instead of 1234.50, as catalog version 2
// switched at at (the catalog store writes the rows, then the switch).
func (s *server) reimportHard(at time.Time) {
	s.t.Helper()
	if err := s.db.Exec(context.Background(), "TRUNCATE TABLE v_products"); err != nil {
		s.t.Fatal(err)
	}
	cat := hardCatalog()
	cat[0].Price = 999
	s.fx.products("shop", cat...)
	s.fx.products("shop", product{ID: "old", Title: "Canon EOS 250D", Link: "https://shop.example/old", Image: "https://cdn.example/o.jpg", Price: 500, Currency: "USD"})
	s.fx.catalogSwitch("shop", 2, at)
}

const newAmpPrice = "999.00 USD"

func TestCatalogSwitchChangesETagAcrossInstances(t *testing.T) {
	cfg := testConfig(t)
	a := newServer(t, cfg)
	a.seedHard()
	a.fx.catalogSwitch("shop", 1, runFinished.Add(-time.Hour))
	path := "/feeds/shop/cart/google.xml?token=" + feedToken
	before := a.get(path)
	etag, lm := before.Header().Get("ETag"), before.Header().Get("Last-Modified")
	if before.Code != 200 || lm != "Thu, 26 Nov 2026 10:00:00 GMT" || strings.Contains(before.Body.String(), newAmpPrice) {
		t.Fatalf("before the import: %d, Last-Modified %q", before.Code, lm)
	}

	a.reimportHard(a.now.Add(1500 * time.Millisecond)) // 11:00:01.5
	a.now = a.now.Add(time.Minute)
	b := newServerOn(t, cfg, a)
	after := b.get(path)
	if after.Code != 200 || !strings.Contains(after.Body.String(), newAmpPrice) {
		t.Fatalf("instance b after the import: %d, body %.300s", after.Code, after.Body)
	}
	if after.Header().Get("ETag") == etag {
		t.Errorf("instance b serves the new catalog's feed under instance a's ETag %s for the old one", etag)
	}
	if got := after.Header().Get("Last-Modified"); got != "Thu, 26 Nov 2026 11:00:02 GMT" {
		t.Errorf("Last-Modified %q, want the switch rounded up to the second", got)
	}
	for _, hdr := range [][]string{{"If-None-Match", etag}, {"If-Modified-Since", lm}} {
		if rec := b.get(path, hdr...); rec.Code != 200 || rec.Body.String() != after.Body.String() {
			t.Errorf("%s %s from before the import: %d, want 200 with the new feed", hdr[0], hdr[1], rec.Code)
		}
	}

	// Instance a follows within its catalog cache's bound, with the same
	// validators as b.
	waitFor(t, func() bool { return a.get(path).Header().Get("ETag") == after.Header().Get("ETag") })
	rec := a.get(path, "If-None-Match", etag)
	if rec.Code != 200 || rec.Body.String() != after.Body.String() || rec.Header().Get("Last-Modified") != after.Header().Get("Last-Modified") {
		t.Errorf("instance a after the import: %d, Last-Modified %q, same body as b: %v", rec.Code,
			rec.Header().Get("Last-Modified"), rec.Body.String() == after.Body.String())
	}
}

// An instance still holding the previous catalog version (within its
// cache's bound, here an hour) that generates a feed must not label the
// new catalog's bytes with the old version: another instance serves the
// old bytes under that key.
func TestStaleCatalogVersionDoesNotLabelNewFeed(t *testing.T) {
	cfg := testConfig(t)
	a := newServer(t, cfg)
	a.seedHard()
	a.fx.catalogSwitch("shop", 1, runFinished.Add(-time.Hour))
	feeds.SetCatalogTTL(a.api, time.Hour)
	c := newServerOn(t, cfg, a)
	google := "/feeds/shop/cart/google.xml?token=" + feedToken
	meta := "/feeds/shop/cart/meta.csv?token=" + feedToken
	a.get(google) // a now holds catalog version 1
	old := c.get(meta)
	if old.Code != 200 || strings.Contains(old.Body.String(), newAmpPrice) {
		t.Fatalf("meta.csv before the import: %d", old.Code)
	}

	a.reimportHard(a.now.Add(time.Second))
	rec := a.get(meta) // generated on a plan of version 1
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), newAmpPrice) {
		t.Fatalf("a's meta.csv after the import: %d, body %.300s", rec.Code, rec.Body)
	}
	if rec.Header().Get("ETag") == old.Header().Get("ETag") {
		t.Errorf("ETag %s names both the old and the new catalog's meta.csv", old.Header().Get("ETag"))
	}
	// Finding the version stale, a dropped it: its other feeds follow at once.
	if rec := a.get(google); !strings.Contains(rec.Body.String(), newAmpPrice) {
		t.Errorf("a's google.xml still shows the old catalog")
	}
}

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
