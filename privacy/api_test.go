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
