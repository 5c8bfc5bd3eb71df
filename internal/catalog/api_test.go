package catalog_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
)

const adminToken = "admin-token-0123456789"

// newAPI serves the catalog API of one site, "shop", over db.
func newAPI(t *testing.T, db *chdb.DB) http.Handler {
	t.Helper()
	gin.SetMode(gin.TestMode)
	cfg := config.Config{Sites: []config.Site{{ID: "shop", WriteKey: "wk", AdminToken: adminToken, FeedToken: "feed-token-0123456789"}}}
	r := gin.New()
	catalog.NewAPI(cfg, db, nil).Register(r)
	return r
}

// call performs a request and decodes the JSON answer into out (if not nil).
func call(t *testing.T, h http.Handler, method, path, token, body string, out any) int {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: answer %q is not JSON: %v", method, path, rec.Body.String(), err)
		}
	}
	return rec.Code
}

func TestAPIRequiresAdminToken(t *testing.T) {
	h := newAPI(t, chtest.MustOpen(t))
	for _, tc := range []struct{ method, path, token string }{
		{"PUT", "/api/sites/shop/products", ""},
		{"PUT", "/api/sites/shop/products", "wrong-token-0123456789"},
		{"POST", "/api/sites/shop/products", ""},
		{"GET", "/api/sites/shop/products", ""},
		{"GET", "/api/sites/shop/products/A", ""},
		{"PUT", "/api/sites/other/products", adminToken},
	} {
		if code := call(t, h, tc.method, tc.path, tc.token, `{"id":"A","price":1,"currency":"EUR"}`, nil); code != http.StatusUnauthorized {
			t.Errorf("%s %s with token %q = %d, want 401", tc.method, tc.path, tc.token, code)
		}
	}
}

func TestAPIUpsert(t *testing.T) {
	db := chtest.MustOpen(t)
	h := newAPI(t, db)
	mustImport(t, catalog.NewStore(db, nil), "shop", "testdata/cameras.csv")

	var rep catalog.Report
	code := call(t, h, "PUT", "/api/sites/shop/products", adminToken, `[
		{"id":"CAN-250D","title":"Canon EOS 250D body","price":499,"currency":"EUR","tags":["clearance"]},
		{"id":"CAN-R100","title":"Canon EOS R100","price":"479.00 EUR","category":"Cameras > Mirrorless"}
	]`, &rep)
	if code != http.StatusOK || rep.Imported != 2 || rep.Kept != 9 || rep.Skipped != 0 || rep.Version == 0 {
		t.Fatalf("PUT array = %d %+v, want 200 with 2 imported and 9 kept", code, rep)
	}
	var p catalog.Product
	if code := call(t, h, "GET", "/api/sites/shop/products/CAN-250D", adminToken, "", &p); code != http.StatusOK || p.Price != 499 || p.Tags[0] != "clearance" || p.Brand != "" {
		t.Errorf("GET CAN-250D = %d %+v, want the replaced product (price 499, no brand)", code, p)
	}
	if code := call(t, h, "GET", "/api/sites/shop/products/SAN-64GB", adminToken, "", &p); code != http.StatusOK || p.Price != 24.99 {
		t.Errorf("GET SAN-64GB = %d %+v, want the carried-over product", code, p)
	}

	// POST alias, {"products": [...]} form, one bad item among good ones.
	code = call(t, h, "POST", "/api/sites/shop/products", adminToken, `{"products":[
		{"id":"BAD","price":-3,"currency":"EUR"},
		{"id":"LOW-BAG-20","title":"Lowepro bag","price":59,"currency":"EUR","colour":"black"},
		{"id":"LOW-BAG-30","title":"Lowepro bag 30","price":79,"currency":"EUR"}
	]}`, &rep)
	if code != http.StatusOK || rep.Imported != 1 || rep.Kept != 11 || rep.Skipped != 2 ||
		!reported(rep.Errors, badRow{0, "BAD", "price", "negative"}) || rep.Errors[0].Item != 1 ||
		!reported(rep.Errors, badRow{0, "LOW-BAG-20", "colour", `unknown field "colour"`}) {
		t.Fatalf("POST with bad items = %d %+v", code, rep)
	}

	var page catalog.Page
	if code := call(t, h, "GET", "/api/sites/shop/products?limit=2&offset=1", adminToken, "", &page); code != http.StatusOK ||
		page.Total != 12 || len(page.Products) != 2 || page.Products[1].ID != "CAN-R100" || page.Version != rep.Version {
		t.Errorf("GET page = %d total %d version %d first %v", code, page.Total, page.Version, page.Products)
	}

	// Nothing valid: 400 naming every problem, catalog unchanged.
	var failed struct {
		Error  string         `json:"error"`
		Report catalog.Report `json:"report"`
	}
	code = call(t, h, "PUT", "/api/sites/shop/products", adminToken, `{"id":"","price":"x","currency":"EUR"}`, &failed)
	if code != http.StatusBadRequest || !strings.Contains(failed.Error, "id is missing") || !strings.Contains(failed.Error, "not a number") {
		t.Errorf("all-bad PUT = %d %+v, want 400 naming the missing id and the bad price", code, failed)
	}
	if code := call(t, h, "GET", "/api/sites/shop/products", adminToken, "", &page); code != http.StatusOK || page.Total != 12 || page.Version != rep.Version {
		t.Errorf("after a rejected PUT the catalog moved: version %d total %d", page.Version, page.Total)
	}
	var vs struct{ Versions []catalog.Version }
	if code := call(t, h, "GET", "/api/sites/shop/catalog/versions", adminToken, "", &vs); code != http.StatusOK || len(vs.Versions) != 3 || vs.Versions[0].Source != "api" || !vs.Versions[0].Current {
		t.Errorf("versions = %d %+v, want 3 with the api upsert current", code, vs)
	}
}

func TestAPIBadRequests(t *testing.T) {
	h := newAPI(t, chtest.MustOpen(t))
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"PUT", "/api/sites/shop/products", "", 400, "empty body"},
		{"PUT", "/api/sites/shop/products", "{not json", 400, "invalid JSON"},
		{"PUT", "/api/sites/shop/products", `{"products": {"id": "A"}}`, 400, "must be an array"},
		{"PUT", "/api/sites/shop/products", `[]`, 400, "no product in the request"},
		{"PUT", "/api/sites/shop/products", `{"products": []}`, 400, "no product in the request"},
		{"PUT", "/api/sites/shop/products", `{"products": null}`, 400, "no product in the request"},
		{"PUT", "/api/sites/shop/products", `null`, 400, "want a product object"},
		{"PUT", "/api/sites/shop/products", `[1, "A"]`, 400, `item 1: want a product object ({\"id\": ...}), got 1; item 2: want a product object`},
		{"PUT", "/api/sites/shop/products", `[{"id":"A","price":1,"currency":"EUR"},{"id":"A","price":2,"currency":"EUR"}]`, 200, `duplicate id \"A\" (first as item 1)`},
		{"GET", "/api/sites/shop/products/NOPE", "", 404, "not in the current catalog"},
		{"GET", "/api/sites/shop/products?limit=0", "", 400, "limit"},
		{"GET", "/api/sites/shop/products?offset=-1", "", 400, "offset"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s %s %q = %d %s, want %d mentioning %q", tc.method, tc.path, tc.body, rec.Code, rec.Body.String(), tc.code, tc.want)
		}
	}
}

func TestProductJSONDates(t *testing.T) {
	for _, tc := range []struct {
		p    catalog.Product
		want string
	}{
		{catalog.Product{ID: "A", LaunchDate: time.Date(2019, 4, 10, 0, 0, 0, 0, time.UTC)}, `"launch_date":"2019-04-10"`},
		{catalog.Product{ID: "B", LaunchDate: time.Unix(0, 0).UTC()}, `"launch_date":""`},
		{catalog.Product{ID: "C"}, `"launch_date":""`},
	} {
		b, err := json.Marshal(tc.p)
		if err != nil || !strings.Contains(string(b), tc.want) || strings.Count(string(b), "launch_date") != 1 || !strings.Contains(string(b), `"id":"`+tc.p.ID+`"`) {
			t.Errorf("%s marshals to %s (%v), want one %s", tc.p.ID, b, err, tc.want)
		}
	}
}

// TestAPIGetsProductsWithSlashInID: an id may hold "/" (upserts take it),
// so GET /products/{id} reads the rest of the path, encoded or not.
func TestAPIGetsProductsWithSlashInID(t *testing.T) {
	h := newAPI(t, chtest.MustOpen(t))
	if code := call(t, h, "PUT", "/api/sites/shop/products", adminToken, `{"id":"CAM/250D","price":1,"currency":"EUR"}`, nil); code != http.StatusOK {
		t.Fatalf("upsert: %d", code)
	}
	for _, path := range []string{"/api/sites/shop/products/CAM/250D", "/api/sites/shop/products/CAM%2F250D"} {
		var p catalog.Product
		if code := call(t, h, "GET", path, adminToken, "", &p); code != http.StatusOK || p.ID != "CAM/250D" {
			t.Errorf("GET %s = %d %+v, want 200 with product CAM/250D", path, code, p)
		}
	}
	if code := call(t, h, "GET", "/api/sites/shop/products/CAM", adminToken, "", nil); code != http.StatusNotFound {
		t.Errorf("GET /products/CAM = %d, want 404", code)
	}
}

// TestAPIUpsertConflictIs409: when another write switches the catalog on
// every attempt, the upsert gives up with 409 naming the cause, not 500.
func TestAPIUpsertConflictIs409(t *testing.T) {
	db := chtest.MustOpen(t)
	gin.SetMode(gin.TestMode)
	cfg := config.Config{Sites: []config.Site{{ID: "shop", AdminToken: adminToken}}}
	api := catalog.NewAPI(cfg, db, nil)
	other := catalog.NewStore(db, nil)
	api.Store().SetBeforeSwitch(func(ctx context.Context, site string, _ uint64) error {
		_, err := importString(t, other, site, "id,price,currency\nNEW,1,EUR\n")
		return err
	})
	r := gin.New()
	api.Register(r)
	var answer struct{ Error, Code string }
	code := call(t, r, "PUT", "/api/sites/shop/products", adminToken, `{"id":"X","price":1,"currency":"EUR"}`, &answer)
	if code != http.StatusConflict || !strings.Contains(answer.Error, "changed while the upsert copied it") {
		t.Errorf("upsert on a catalog that keeps moving = %d %+v, want 409 naming the cause", code, answer)
	}
}

// TestAPIUpsertRecordsSkippedItems: the version history's skipped column
// counted the bad rows of an import but was 0 for an upsert that refused
// items, so an analyst reading v_catalog_versions saw no problem.
func TestAPIUpsertRecordsSkippedItems(t *testing.T) {
	db := chtest.MustOpen(t)
	h := newAPI(t, db)
	var rep catalog.Report
	code := call(t, h, "PUT", "/api/sites/shop/products", adminToken,
		`[{"id":"A","price":1,"currency":"EUR"},{"id":"B","price":"x","currency":"EUR"},{"id":"C","price":1,"currency":"XYZ"}]`, &rep)
	if code != http.StatusOK || rep.Imported != 1 || rep.Skipped != 2 {
		t.Fatalf("PUT = %d %+v, want 200 with 1 imported and 2 skipped", code, rep)
	}
	var vs struct{ Versions []catalog.Version }
	if code := call(t, h, "GET", "/api/sites/shop/catalog/versions", adminToken, "", &vs); code != http.StatusOK ||
		len(vs.Versions) != 1 || vs.Versions[0].Rows != 1 || vs.Versions[0].Skipped != 2 {
		t.Errorf("versions = %d %+v, want one with 1 row and 2 skipped", code, vs.Versions)
	}
}
