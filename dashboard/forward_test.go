package dashboard_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/dashboard"
	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

// TestDashboardForwardsToTheAdminAPI: the lift panel's calls go to the
// admin API as the signed-in site, with its answers passed through.
func TestDashboardForwardsToTheAdminAPI(t *testing.T) {
	db := chtest.MustOpen(t)
	cfg := config.Default()
	cfg.PublicURL = "http://remarket.test"
	cfg.Feeds.CacheDir = t.TempDir()
	twenty := 20.0
	cfg.Sites = []config.Site{{ID: "demo", WriteKey: "wk_demo", AdminToken: admin, FeedToken: "feed_0123456789abcdef"}}
	cfg.Sites[0].Audiences = []config.Audience{{Name: "viewers", Strategy: config.Upsell, HoldoutPercent: &twenty,
		Include: []config.Condition{{Events: []string{"product_view"}}}}}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	segment.NewAPI(cfg, db, log).Register(r)
	f := feeds.NewAPI(cfg, db, log)
	t.Cleanup(f.Close)
	f.Register(r)
	dashboard.New(cfg, db, log).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	resp, body := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	var s struct{ CSRF string }
	json.Unmarshal([]byte(body), &s)
	cookie := strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]
	auth := map[string]string{"Cookie": cookie}
	cases := []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
		want                     string
	}{
		{"lift", "GET", "/ui/api/audiences/viewers/lift", "", auth, 200, `"holdout_percent":20`},
		{"signed out", "GET", "/ui/api/audiences/viewers/lift", "", nil, 401, ""},
	}
	for _, c := range cases {
		resp, body := do(t, srv, c.method, c.path, c.body, c.hdr)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, resp.StatusCode, body, c.status, c.want)
		}
	}
	for _, file := range []string{"outcomes.js"} {
		if resp, body := do(t, srv, "GET", "/ui/"+file, "", nil); resp.StatusCode != 200 || !strings.Contains(body, "remarketUI") {
			t.Errorf("/ui/%s: %d", file, resp.StatusCode)
		}
	}
}
