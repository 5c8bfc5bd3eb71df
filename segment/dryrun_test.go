package segment_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/chtest"
)

// TestDryRunCountsWithoutPublishing: the preview counts what a run would
// (by group), stores and publishes nothing, and names a bad field.
func TestDryRunCountsWithoutPublishing(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db,
		ev{vid: "a", ago: 2 * day, typ: "add_to_cart", pid: "cam250d"},
		ev{vid: "b", ago: 3 * day, typ: "add_to_cart", pid: "cam90d"},
		ev{vid: "b", ago: 2 * day, typ: "purchase", pid: "cam90d"},
		ev{vid: "c", ago: day, typ: "product_view", pid: "cam250d"},
		ev{vid: "d", ago: day, typ: "add_to_cart", pid: "bag"},
	)
	cfg := testConfig(t, viewers("viewers", nil))
	cfg.HoldoutKey = holdoutKey
	api, call := serveAPI(t, db, cfg)
	post := func(path, body string) (int, map[string]any) {
		code, b := call("POST", path, body)
		var out map[string]any
		json.Unmarshal(b, &out)
		return code, out
	}
	// Carted a camera (stage: reads interests), not bought: a only.
	carts := `{"strategy":"reminder","holdout_percent":50,"include":[{"stage":"carted","categories":["Cameras"]}]}`
	code, out := post("/api/sites/shop/audiences/camera_carts/dry-run", carts)
	if code != http.StatusOK || out["members"] != 1.0 || out["treatment"].(float64)+out["holdout"].(float64) != 1 {
		t.Fatalf("dry run: %d %v", code, out)
	}
	// Events only (no interests read): everyone with an add_to_cart.
	code, out = post("/api/sites/shop/audiences/any_cart/dry-run", `{"strategy":"reminder","include":[{"events":["add_to_cart"]}]}`)
	if code != http.StatusOK || out["members"] != 3.0 {
		t.Fatalf("events dry run: %d %v", code, out)
	}
	code, out = post("/api/sites/shop/audiences/bad/dry-run", `{"strategy":"reminder","include":[{"stage":"carted","since":"1d","until":"2d"}]}`)
	if msg, _ := out["error"].(string); code != http.StatusBadRequest || !strings.Contains(msg, "include[0].until") {
		t.Errorf("bad definition: %d %v", code, out)
	}
	// Nothing was stored or published, and no rows are left.
	var runs, rows uint64
	if err := db.QueryRow(context.Background(), "SELECT count() FROM v_segment_runs WHERE site = ?", site).Scan(&runs); err != nil || runs != 0 {
		t.Errorf("%d runs recorded (%v)", runs, err)
	}
	if err := db.QueryRow(context.Background(), "SELECT (SELECT count() FROM seg_members) + (SELECT count() FROM seg_profiles) + (SELECT count() FROM seg_interests)").Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d snapshot rows left behind (%v)", rows, err)
	}
	if defs, _ := api.Engine().Definitions(context.Background(), site); len(defs) != 1 {
		t.Errorf("definitions after dry runs: %v", defs)
	}
	// The same definition stored and run gives the same count.
	if code, body := call("PUT", "/api/sites/shop/audiences/camera_carts", carts); code != http.StatusOK {
		t.Fatalf("PUT: %d %s", code, body)
	}
	res := run(t, api.Engine())
	if res.Sizes["camera_carts"] != 1 {
		t.Errorf("run: camera_carts has %d members, the preview said 1", res.Sizes["camera_carts"])
	}
}
