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
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
)

// With public_url on https, remarket is reached over TLS even when the
// proxy in front of it says nothing of it (no X-Forwarded-Proto): the
// session cookie is Secure, so a browser never sends it in clear.
func TestSessionCookieIsSecureBehindAnHTTPSPublicURL(t *testing.T) {
	db := chtest.MustOpen(t)
	cfg := config.Config{PublicURL: "https://remarket.example", Sites: []config.Site{
		{ID: "demo", WriteKey: "wk_demo", AdminToken: admin, FeedToken: "feed_0123456789abcdef"},
	}}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	dashboard.New(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	resp, body := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	set := resp.Header.Get("Set-Cookie")
	if !strings.Contains(set, "; Secure") {
		t.Errorf("sign-in cookie %q lacks Secure", set)
	}
	var s struct{ CSRF string }
	json.Unmarshal([]byte(body), &s)
	resp, body = do(t, srv, "POST", "/ui/api/logout", "", map[string]string{"Cookie": strings.Split(set, ";")[0], "X-CSRF-Token": s.CSRF})
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Set-Cookie"), "; Secure") {
		t.Errorf("sign-out: %d %s, cookie %q, want it cleared with Secure", resp.StatusCode, body, resp.Header.Get("Set-Cookie"))
	}
}

// A session is signed with the site's admin token: once the token is
// changed (a new config, on any instance), every cookie made with the old
// one stops working, and so does its CSRF token.
func TestChangingTheAdminTokenEndsSessions(t *testing.T) {
	db := chtest.MustOpen(t)
	a, _ := instance(t, db)
	resp, body := do(t, a, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var s struct{ CSRF string }
	json.Unmarshal([]byte(body), &s)
	cookie := strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]

	cfg := config.Config{PublicURL: "http://remarket.test", Sites: []config.Site{
		{ID: "demo", WriteKey: "wk_demo", AdminToken: "adm_rotated_0123456789", FeedToken: "feed_0123456789abcdef"},
	}}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	dashboard.New(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(r)
	b := httptest.NewServer(r)
	t.Cleanup(b.Close)
	if resp, body := do(t, a, "GET", "/ui/api/session", "", map[string]string{"Cookie": cookie}); resp.StatusCode != 200 {
		t.Fatalf("the session under the old token: %d %s", resp.StatusCode, body)
	}
	for _, c := range []struct{ method, path string }{{"GET", "/ui/api/session"}, {"GET", "/ui/api/overview"}, {"DELETE", "/ui/api/visitors/v1"}} {
		if resp, body := do(t, b, c.method, c.path, "", map[string]string{"Cookie": cookie, "X-CSRF-Token": s.CSRF}); resp.StatusCode != 401 {
			t.Errorf("%s %s with a cookie of the old token: %d %s, want 401", c.method, c.path, resp.StatusCode, body)
		}
	}
}
