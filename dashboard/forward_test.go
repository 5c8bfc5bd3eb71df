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
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

// TestDashboardForwardsToTheAdminAPI: the lift panel's and the editors'
// calls go to the admin API as the signed-in site, with its answers (and
// its field-naming messages) passed through; writes need the CSRF token.
func TestDashboardForwardsToTheAdminAPI(t *testing.T) {
	srv, _, auth := newServerWithAPIs(t, nil)
	cookie := map[string]string{"Cookie": auth["Cookie"]}
	def := `{"strategy":"upsell","holdout_percent":20,"include":[{"events":["product_view"],"since":"7d"}]}`
	cases := []struct {
		name, method, path, body string
		hdr                      map[string]string
		status                   int
		want                     string
	}{
		{"preview", "POST", "/ui/api/audiences/viewers/dry-run", def, auth, 200, `"members":0`},
		{"preview naming the field", "POST", "/ui/api/audiences/viewers/dry-run", `{"strategy":"upsell","include":[{"events":["view"]}]}`, auth, 400, "include[0].events[0]"},
		{"save without CSRF", "PUT", "/ui/api/audiences/viewers", def, cookie, 403, ""},
		{"save", "PUT", "/ui/api/audiences/viewers", def, auth, 200, `"stored":true`},
		{"bad name", "PUT", "/ui/api/audiences/Bad%20Name", def, auth, 400, "name"},
		{"run", "POST", "/ui/api/segments/run", "", auth, 200, `"viewers":0`},
		{"lift", "GET", "/ui/api/audiences/viewers/lift", "", auth, 200, `"holdout_percent":20`},
		{"rules naming the field", "PUT", "/ui/api/discounts", `{"rules":[{"strategy":"reminder","percent":45,"duration":"48h"}]}`, auth, 400, "percent 45 exceeds"},
		{"rules", "PUT", "/ui/api/discounts", `{"rules":[{"strategy":"reminder","percent":12,"duration":"48h"}]}`, auth, 200, `"percent":12`},
		{"rules read back", "GET", "/ui/api/discounts", "", auth, 200, `"percent":12`},
		{"signed out", "GET", "/ui/api/audiences/viewers/lift", "", nil, 401, ""},
	}
	for _, c := range cases {
		resp, body := do(t, srv, c.method, c.path, c.body, c.hdr)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, resp.StatusCode, body, c.status, c.want)
		}
	}
	for _, file := range []string{"outcomes.js", "editor.js"} {
		if resp, body := do(t, srv, "GET", "/ui/"+file, "", nil); resp.StatusCode != 200 || !strings.Contains(body, "remarketUI") {
			t.Errorf("/ui/%s: %d", file, resp.StatusCode)
		}
	}
}

// TestDashboardForwardsRefuseOversizeBodies: a body over the forward's
// 1 MB, or over the admin API's own limit, is answered 413 naming the
// limit, not cut short and answered as malformed JSON.
func TestDashboardForwardsRefuseOversizeBodies(t *testing.T) {
	srv, _, auth := newServerWithAPIs(t, nil)
	cases := []struct {
		name, method, path, body, limit string
	}{
		{"audience definition over the API's 64 KB", "POST", "/ui/api/audiences/viewers/dry-run",
			`{"strategy":"upsell",` + strings.Repeat(" ", 70<<10) + `"include":[{"events":["product_view"],"since":"7d"}]}`, "65536 bytes"},
		{"discount rules over the forward's 1 MB", "PUT", "/ui/api/discounts",
			`{"rules":[{"strategy":"reminder","percent":12,"duration":"48h"}]` + strings.Repeat(" ", 1<<20) + `}`, "1048576 bytes"},
	}
	for _, c := range cases {
		resp, body := do(t, srv, c.method, c.path, c.body, auth)
		if resp.StatusCode != 413 || !strings.Contains(body, c.limit) {
			t.Errorf("%s: %d %s, want 413 naming %s", c.name, resp.StatusCode, body, c.limit)
		}
	}
}

// newServerWithAPIs serves the dashboard beside the admin APIs it calls
// (segments, feeds) for the site "demo" with audiences, and signs in:
// auth carries the session cookie and the CSRF token.
func newServerWithAPIs(t *testing.T, audiences []config.Audience) (*httptest.Server, *chdb.DB, map[string]string) {
	t.Helper()
	db := chtest.MustOpen(t)
	cfg := config.Default()
	cfg.PublicURL = "http://remarket.test"
	cfg.Feeds.CacheDir = t.TempDir()
	cfg.Sites = []config.Site{{ID: "demo", WriteKey: "wk_demo", AdminToken: admin, FeedToken: "feed_0123456789abcdef", SiteSegments: config.SiteSegments{Audiences: audiences}}}
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
	return srv, db, map[string]string{"Cookie": strings.Split(resp.Header.Get("Set-Cookie"), ";")[0], "X-CSRF-Token": s.CSRF}
}
