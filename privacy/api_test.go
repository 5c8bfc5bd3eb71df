package privacy_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/privacy"
)

func TestAPIErasesWithAdminTokenOnly(t *testing.T) {
	db := chtest.MustOpen(t)
	addEvent(t, db, "shop", "v-alice", "", time.Now().UTC())
	cfg := config.Config{Sites: []config.Site{{ID: "shop", WriteKey: "wk", AdminToken: "admin-token-0123456789", FeedToken: "feed-token-0123456789"}}}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	privacy.NewAPI(cfg, db, quiet).Register(r)

	cases := []struct {
		name, path, token string
		status            int
		left              uint64
	}{
		{"no token", "/api/sites/shop/visitors/v-alice", "", http.StatusUnauthorized, 1},
		{"feed token", "/api/sites/shop/visitors/v-alice", "feed-token-0123456789", http.StatusUnauthorized, 1},
		{"other site", "/api/sites/else/visitors/v-alice", "admin-token-0123456789", http.StatusUnauthorized, 1},
		{"admin", "/api/sites/shop/visitors/v-alice", "admin-token-0123456789", http.StatusOK, 0},
		{"user, none seen", "/api/sites/shop/users/u-nobody", "admin-token-0123456789", http.StatusOK, 0},
	}
	for _, tc := range cases {
		req := httptest.NewRequest(http.MethodDelete, tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != tc.status {
			t.Fatalf("%s: status %d %s", tc.name, w.Code, w.Body)
		}
		if n := count(t, db, "events", "visitor_id = 'v-alice'"); n != tc.left {
			t.Fatalf("%s: %d events left, want %d", tc.name, n, tc.left)
		}
		if w.Code == http.StatusOK {
			var res privacy.Result
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || res.Status != "done" || len(res.Tables) == 0 {
				t.Fatalf("%s: %s", tc.name, w.Body)
			}
		}
	}
}

// Any id ingest stores can be erased through the API, "/" included: the
// client percent-encodes it.
func TestAPIErasesIdsWithSlashes(t *testing.T) {
	db := chtest.MustOpen(t)
	now := time.Now().UTC()
	addEvent(t, db, "shop", "a/b", "", now)
	addEvent(t, db, "shop", "/lead/trail/", "", now)
	addEvent(t, db, "shop", "v-user", "org/42", now)
	addEvent(t, db, "shop", "a", "", now) // a prefix of "a/b" stays
	cfg := config.Config{Sites: []config.Site{{ID: "shop", WriteKey: "wk", AdminToken: "admin-token-0123456789", FeedToken: "feed-token-0123456789"}}}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	privacy.NewAPI(cfg, db, quiet).Register(r)
	for _, tc := range []struct{ path, gone string }{
		{"/api/sites/shop/visitors/a%2Fb", "visitor_id = 'a/b'"},
		{"/api/sites/shop/visitors/%2Flead%2Ftrail%2F", "visitor_id = '/lead/trail/'"},
		{"/api/sites/shop/users/org%2F42", "user_id = 'org/42' OR visitor_id = 'v-user'"},
	} {
		req := httptest.NewRequest(http.MethodDelete, tc.path, nil)
		req.Header.Set("Authorization", "Bearer admin-token-0123456789")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d %s", tc.path, w.Code, w.Body)
			continue
		}
		if n := count(t, db, "events", tc.gone); n != 0 {
			t.Errorf("%s: %d events left", tc.path, n)
		}
	}
	if n := count(t, db, "events", "visitor_id = 'a'"); n != 1 {
		t.Errorf("visitor a: %d events, want its one kept", n)
	}
}
