package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

type sites []config.Site

func (s sites) Site(id string) (config.Site, bool) {
	for _, site := range s {
		if site.ID == id {
			return site, true
		}
	}
	return config.Site{}, false
}

// TestWrongTokensAreThrottled: after ThrottleBurst wrong admin or feed
// tokens for a site, a client gets 429 with Retry-After for any token;
// other clients and other sites are not held up, and a right token, or
// a request without one, is never throttled however often it is sent.
func TestWrongTokensAreThrottled(t *testing.T) {
	cfg := sites{
		{ID: "shop", AdminToken: "admin-token-0123456789", FeedToken: "feed-token-0123456789"},
		{ID: "other", AdminToken: "admin-other-0123456789", FeedToken: "feed-other-0123456789"},
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	ok := func(c *gin.Context) { c.String(http.StatusOK, "ok") }
	r.GET("/api/sites/:site/audiences", httpx.RequireAdmin(cfg), ok)
	r.GET("/feeds/:site/feed.json", httpx.RequireFeedToken(cfg), ok)
	admin := func(site, token, client string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/sites/"+site+"/audiences", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.RemoteAddr = client + ":1234"
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	feed := func(site, token, client string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/feeds/"+site+"/feed.json?token="+token, nil)
		req.RemoteAddr = client + ":1234"
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w
	}
	const attacker, shop = "203.0.113.7", "198.51.100.9"
	for name, c := range map[string]struct {
		call         func(site, token, client string) *httptest.ResponseRecorder
		right, other string
	}{
		"admin": {admin, "admin-token-0123456789", "admin-other-0123456789"},
		"feed":  {feed, "feed-token-0123456789", "feed-other-0123456789"},
	} {
		for i := range 200 {
			if w := c.call("shop", c.right, shop); w.Code != http.StatusOK {
				t.Fatalf("%s: right token, request %d: %d %s", name, i+1, w.Code, w.Body)
			}
		}
		for range 50 {
			if w := c.call("shop", "", shop); w.Code != http.StatusUnauthorized {
				t.Fatalf("%s: no token: %d, want 401 (a missing token is no guess)", name, w.Code)
			}
		}
		if w := c.call("shop", c.right, shop); w.Code != http.StatusOK {
			t.Fatalf("%s: right token after requests without one: %d, want 200", name, w.Code)
		}
		var codes []int
		for range 50 {
			codes = append(codes, c.call("shop", "guess", attacker).Code)
		}
		for i, code := range codes {
			if want := map[bool]int{true: 401, false: 429}[i < httpx.ThrottleBurst]; code != want {
				t.Fatalf("%s: 50 wrong tokens answered %v, want %d × 401 then 429", name, codes, httpx.ThrottleBurst)
			}
		}
		w := c.call("shop", c.right, attacker)
		if secs, _ := strconv.Atoi(w.Header().Get("Retry-After")); w.Code != 429 || secs < 1 || secs > 20 {
			t.Errorf("%s: the right token while throttled: %d, Retry-After %q; want 429 and a wait of at most 20 s", name, w.Code, w.Header().Get("Retry-After"))
		}
		if w := c.call("shop", c.right, shop); w.Code != http.StatusOK {
			t.Errorf("%s: another client's right token: %d, want 200", name, w.Code)
		}
		if w := c.call("other", c.other, attacker); w.Code != http.StatusOK {
			t.Errorf("%s: another site from the same client: %d, want 200", name, w.Code)
		}
	}
}

// Admin answers, refusals included, are stored by no cache: they hold
// audience members and visitors' events.
func TestAdminAnswersAreNotStored(t *testing.T) {
	cfg := sites{{ID: "shop", AdminToken: "admin-token-0123456789", FeedToken: "feed-token-0123456789"}}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.GET("/api/sites/:site/audiences", httpx.RequireAdmin(cfg), func(c *gin.Context) { c.String(http.StatusOK, "members") })
	for _, token := range []string{"admin-token-0123456789", "wrong", ""} {
		req := httptest.NewRequest("GET", "/api/sites/shop/audiences", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("token %q: %d, Cache-Control %q, want no-store", token, w.Code, cc)
		}
	}
}
