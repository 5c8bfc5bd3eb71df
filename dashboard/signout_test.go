package dashboard_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/dashboard"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
)

// instance is one serve process's dashboard over a shared database.
func instance(t *testing.T, db *chdb.DB) (*httptest.Server, *dashboard.UI) {
	t.Helper()
	cfg := config.Config{PublicURL: "http://remarket.test", Sites: []config.Site{
		{ID: "demo", WriteKey: "wk_demo", AdminToken: admin, FeedToken: "feed_0123456789abcdef"},
		{ID: "other", WriteKey: "wk_other", AdminToken: "adm_other_0123456789", FeedToken: "feed_other_0123456789"},
	}}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	ui := dashboard.New(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ui.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, ui
}

// Signing out ends the session on every instance sharing the database:
// a copy of the old cookie (stolen, or in another tab) stops working at
// once instead of for the rest of its 12 hours.
func TestSignOutRevokesTheSessionEverywhere(t *testing.T) {
	db := chtest.MustOpen(t)
	a, _ := instance(t, db)
	b, _ := instance(t, db)
	resp, body := do(t, a, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var s struct{ CSRF string }
	json.Unmarshal([]byte(body), &s)
	cookie := map[string]string{"Cookie": strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]}
	other, _ := do(t, a, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	otherCookie := map[string]string{"Cookie": strings.Split(other.Header.Get("Set-Cookie"), ";")[0]}
	for _, srv := range []*httptest.Server{a, b} {
		if resp, body := do(t, srv, "GET", "/ui/api/session", "", cookie); resp.StatusCode != 200 {
			t.Fatalf("session before sign-out: %d %s", resp.StatusCode, body)
		}
	}
	if resp, body := do(t, a, "POST", "/ui/api/logout", "", map[string]string{"Cookie": cookie["Cookie"], "X-CSRF-Token": s.CSRF}); resp.StatusCode != 200 {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	for name, srv := range map[string]*httptest.Server{"the instance signed out on": a, "another instance": b} {
		if resp, body := do(t, srv, "GET", "/ui/api/overview", "", cookie); resp.StatusCode != 401 {
			t.Errorf("old cookie on %s: %d %s, want 401", name, resp.StatusCode, body)
		}
	}
	if resp, body := do(t, b, "GET", "/ui/api/session", "", otherCookie); resp.StatusCode != 200 {
		t.Errorf("another session of the same site was signed out too: %d %s", resp.StatusCode, body)
	}
}

// Failed sign-ins are throttled per client and site with 429 and
// Retry-After; other clients and sites are not held up, and the client
// may try again once the wait is over.
func TestFailedSignInsAreThrottled(t *testing.T) {
	db := chtest.MustOpen(t)
	srv, ui := instance(t, db)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ui.SetClock(func() time.Time { return now })
	login := func(site, token, client string) (int, string) {
		hdr := map[string]string{"Content-Type": "application/json", "X-Forwarded-For": client}
		resp, _ := do(t, srv, "POST", "/ui/api/login", `{"site":"`+site+`","token":"`+token+`"}`, hdr)
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	const attacker, admins = "203.0.113.7", "198.51.100.9"
	var codes []int
	for range 50 {
		code, _ := login("demo", "guess", attacker)
		codes = append(codes, code)
	}
	for i, code := range codes {
		if want := map[bool]int{true: 401, false: 429}[i < 5]; code != want {
			t.Fatalf("50 wrong tokens answered %v, want 5 × 401 then 429", codes)
		}
	}
	code, retry := login("demo", admin, attacker)
	if secs, _ := strconv.Atoi(retry); code != 429 || secs < 1 || secs > 20 {
		t.Fatalf("the right token while throttled: %d, Retry-After %q; want 429 and a wait of at most 20 s", code, retry)
	}
	if code, _ := login("demo", admin, admins); code != 200 {
		t.Fatalf("another client: %d, want 200", code)
	}
	if code, _ := login("other", "guess", attacker); code != 401 {
		t.Fatalf("another site from the same client: %d, want 401", code)
	}
	now = now.Add(20 * time.Second)
	if code, _ := login("demo", admin, attacker); code != 200 {
		t.Fatalf("after the wait: %d, want 200", code)
	}
}
