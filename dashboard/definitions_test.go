package dashboard_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/dashboard"
	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

// The audience pages show what is in effect: an audience's definition
// stored through the admin API (which overrides the YAML one of its
// name), and the discount rules stored through it (which replace the YAML
// rules with their selector). They showed the YAML definition and the
// YAML 10% rule.
func TestAudiencePagesShowTheDefinitionAndRulesInEffect(t *testing.T) {
	db := chtest.MustOpen(t)
	cfg := config.Default()
	cfg.PublicURL = "http://remarket.test"
	cfg.Feeds.CacheDir = t.TempDir()
	cfg.Sites = []config.Site{{ID: "demo", WriteKey: "wk_demo", AdminToken: admin, FeedToken: "feed_0123456789abcdef"}}
	cfg.Sites[0].Audiences = []config.Audience{{Name: "carts", Strategy: config.Reminder, Description: "from the YAML file",
		Include: []config.Condition{{Stage: config.Carted}}}}
	cfg.Sites[0].Discounts = []config.DiscountRule{{Strategy: config.Reminder, Percent: 10, Duration: 48 * time.Hour}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	segment.NewAPI(cfg, db, log).Register(r)
	fa := feeds.NewAPI(cfg, db, log)
	t.Cleanup(fa.Close)
	fa.Register(r)
	dashboard.New(cfg, db, log).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	bearer := map[string]string{"Authorization": "Bearer " + admin}
	if resp, body := do(t, srv, "PUT", "/api/sites/demo/audiences/carts", `{"strategy":"reminder","description":"from the API","include":[{"stage":"carted"}]}`, bearer); resp.StatusCode != 200 {
		t.Fatalf("PUT audience: %d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, srv, "PUT", "/api/sites/demo/discounts", `{"rules":[{"strategy":"reminder","percent":20,"duration":"24h"}]}`, bearer); resp.StatusCode != 200 {
		t.Fatalf("PUT discounts: %d %s", resp.StatusCode, body)
	}
	resp, _ := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	cookie := map[string]string{"Cookie": strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]}

	resp, body := do(t, srv, "GET", "/ui/api/audiences/carts", "", cookie)
	var page struct {
		Audience   struct{ Definition config.Audience }
		Definition *config.Audience
		Discounts  []map[string]any
	}
	if err := json.Unmarshal([]byte(body), &page); resp.StatusCode != 200 || err != nil {
		t.Fatalf("audience page: %d %s", resp.StatusCode, body)
	}
	shown := page.Audience.Definition
	if page.Definition != nil { // the page shows this one first
		shown = *page.Definition
	}
	if shown.Description != "from the API" {
		t.Errorf("audience page shows the definition %+v, want the API's", shown)
	}
	if len(page.Discounts) != 1 || page.Discounts[0]["percent"] != 20.0 {
		t.Errorf("audience page shows discounts %v, want the stored 20%% rule only", page.Discounts)
	}
	resp, body = do(t, srv, "GET", "/ui/api/audiences", "", cookie)
	var list struct {
		Audiences []struct{ Discounts []map[string]any }
	}
	if err := json.Unmarshal([]byte(body), &list); resp.StatusCode != 200 || err != nil || len(list.Audiences) != 1 {
		t.Fatalf("audiences: %d %s", resp.StatusCode, body)
	}
	if d := list.Audiences[0].Discounts; len(d) != 1 || d[0]["percent"] != 20.0 {
		t.Errorf("audience list shows discounts %v, want the stored 20%% rule only", d)
	}
}
