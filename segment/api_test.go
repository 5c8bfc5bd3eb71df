package segment_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

func TestAudienceAPI(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db, ev{vid: "v1", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"},
		ev{vid: "shop/v/2", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"})
	cfg := testConfig(t, segment.Templates()...)
	gin.SetMode(gin.TestMode)
	r := gin.New()
	api := segment.NewAPI(cfg, db, nil)
	api.Engine().Now = func() time.Time { return now }
	api.Register(r)
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer admin-token-0123456789")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		var out map[string]any
		json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}

	bad := []struct{ body, field string }{
		{`{"strategy":"upsell","include":[{"events":["product_view"]}],"colour":"red"}`, "colour"},
		{`{"strategy":"upsale","include":[{"events":["product_view"]}]}`, "strategy"},
		{`{"strategy":"upsell","include":[{"events":["product_view"],"since":"1d","until":"3d"}]}`, "include[0].until"},
		{`{"strategy":"upsell","include":[{"events":["product_view"],"categories":["Boats"]}]}`, "include[0].categories[0]"},
		{`{"strategy":"upsell","include":[{"stage":"dreaming"}]}`, "include[0].stage"},
		{`{"strategy":"upsell","include":[{"events":["product_view"]}],"window":"soon"}`, "window"},
		{`{"strategy":"upsell","include":[` + strings.Repeat(`{"events":["product_view"]},`, config.MaxIncludes) + `{"events":["purchase"]}]}`, "include"},
	}
	for _, b := range bad {
		code, out := do("PUT", "/api/sites/shop/audiences/mine", b.body)
		msg, _ := out["error"].(string)
		if code != http.StatusBadRequest || !strings.Contains(msg, b.field) {
			t.Errorf("PUT %s: %d %q, want 400 naming %s", b.body, code, msg, b.field)
		}
	}
	// Over the 64 KB limit: too large, not cut short into malformed JSON.
	big := `{"strategy":"upsell",` + strings.Repeat(" ", 64<<10) + `"include":[{"events":["product_view"]}]}`
	if code, out := do("PUT", "/api/sites/shop/audiences/mine", big); code != http.StatusRequestEntityTooLarge || !strings.Contains(fmt.Sprint(out["error"]), "65536 bytes") {
		t.Errorf("PUT a %d bytes definition: %d %v, want 413 naming the 65536 bytes limit", len(big), code, out)
	}
	code, out := do("PUT", "/api/sites/shop/audiences/dslr_carts", `{"description":"DSLR carts","strategy":"reminder","window":"7d",
		"include":[{"stage":"carted","categories":["Cameras > DSLR"]}]}`)
	if code != http.StatusOK {
		t.Fatalf("PUT good definition: %d %v", code, out)
	}
	if code, out = do("POST", "/api/sites/shop/segments/run?wait=1", ""); code != http.StatusOK {
		t.Fatalf("run: %d %v", code, out)
	}
	code, out = do("GET", "/api/sites/shop/audiences", "")
	if code != http.StatusOK {
		t.Fatalf("list: %d", code)
	}
	sizes := map[string]float64{}
	for _, a := range out["audiences"].([]any) {
		m := a.(map[string]any)
		sizes[m["name"].(string)] = m["size"].(float64)
		if m["last_run"] == nil || m["strategy"] == "" {
			t.Errorf("audience %v lacks last_run or strategy", m)
		}
	}
	if sizes["dslr_carts"] != 2 || sizes["cart_abandoners"] != 2 || len(sizes) != 7 {
		t.Errorf("sizes = %v", sizes)
	}
	code, out = do("GET", "/api/sites/shop/visitors/v1/recommendations", "")
	items, _ := out["items"].([]any)
	if code != http.StatusOK || len(items) == 0 || items[0].(map[string]any)["reason"] == "" {
		t.Errorf("recommendations: %d %v", code, out)
	}
	if code, out = do("GET", "/api/sites/shop/audiences/cart_abandoners/lift", ""); code != http.StatusOK || out["verdict"] == "" || out["method"] == "" {
		t.Errorf("lift: %d %v", code, out)
	}
	if code, _ = do("GET", "/api/sites/shop/audiences/ghost/lift", ""); code != http.StatusNotFound {
		t.Errorf("lift of an unknown audience: %d", code)
	}
	if code, _ = do("GET", "/api/sites/shop/visitors/v1/interests", ""); code != http.StatusOK {
		t.Errorf("interests: %d", code)
	}
	// An id with "/" (stored as sent) is reachable percent-encoded.
	code, out = do("GET", "/api/sites/shop/visitors/shop%2Fv%2F2/recommendations", "")
	if items, _ := out["items"].([]any); code != http.StatusOK || len(items) == 0 {
		t.Errorf("recommendations of shop/v/2: %d %v", code, out)
	}
	code, out = do("GET", "/api/sites/shop/visitors/shop%2Fv%2F2/interests", "")
	if products, _ := out["products"].([]any); code != http.StatusOK || out["visitor_id"] != "shop/v/2" || len(products) == 0 {
		t.Errorf("interests of shop/v/2: %d %v", code, out)
	}
	if code, _ = do("GET", "/api/sites/shop/visitors/v1/history", ""); code != http.StatusNotFound {
		t.Errorf("unknown visitor route: %d, want 404", code)
	}
	if code, _ = do("DELETE", "/api/sites/shop/audiences/cart_abandoners", ""); code != http.StatusConflict {
		t.Errorf("deleting a config audience: %d, want 409", code)
	}
	if code, _ = do("DELETE", "/api/sites/shop/audiences/dslr_carts", ""); code != http.StatusNoContent {
		t.Errorf("delete: %d", code)
	}
	if code, _ = do("GET", "/api/sites/shop/audiences/dslr_carts", ""); code != http.StatusNotFound {
		t.Errorf("deleted audience: %d, want 404", code)
	}
	req := httptest.NewRequest("GET", "/api/sites/shop/audiences", nil)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("no token: %d", w.Code)
	}
}
