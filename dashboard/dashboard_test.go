package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/remarket/remarket/dashboard"
	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/privacy"
)

func TestMain(m *testing.M) { chtest.Main(m) }

const admin = "adm_0123456789abcdef"

func newServer(t *testing.T) *httptest.Server {
	srv, _ := newServerDB(t)
	return srv
}

func newServerDB(t *testing.T) (*httptest.Server, *chdb.DB) {
	t.Helper()
	db := chtest.MustOpen(t)
	cfg := config.Config{PublicURL: "http://remarket.test", Sites: []config.Site{
		{ID: "demo", WriteKey: "wk_demo", AdminToken: admin, FeedToken: "feed_0123456789abcdef"},
		{ID: "other", WriteKey: "wk_other", AdminToken: "adm_other_0123456789", FeedToken: "feed_other_0123456789"},
	}}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	privacy.NewAPI(cfg, db, log).Register(r)
	dashboard.New(cfg, db, log).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, db
}

func do(t *testing.T, srv *httptest.Server, method, path, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestSignInCookieAndCSRF(t *testing.T) {
	srv := newServer(t)
	jsonHdr := map[string]string{"Content-Type": "application/json"}
	cases := []struct {
		name, body string
		hdr        map[string]string
		status     int
	}{
		{"wrong token", `{"site":"demo","token":"nope"}`, jsonHdr, 401},
		{"other site's token", `{"site":"demo","token":"adm_other_0123456789"}`, jsonHdr, 401},
		{"form post (cross-site)", `site=demo&token=` + admin, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 400},
	}
	for _, tc := range cases {
		if resp, body := do(t, srv, "POST", "/ui/api/login", tc.body, tc.hdr); resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
	}
	resp, body := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, jsonHdr)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	set := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/ui"} {
		if !strings.Contains(set, want) {
			t.Errorf("cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, admin) {
		t.Fatal("cookie carries the admin token")
	}
	var s struct{ Site, CSRF string }
	json.Unmarshal([]byte(body), &s)
	cookie := strings.Split(set, ";")[0]
	if s.Site != "demo" || s.CSRF == "" {
		t.Fatalf("login answer %s", body)
	}

	checks := []struct {
		name, method, path string
		hdr                map[string]string
		status             int
	}{
		{"session with cookie", "GET", "/ui/api/session", map[string]string{"Cookie": cookie}, 200},
		{"session without cookie", "GET", "/ui/api/session", nil, 401},
		{"tampered cookie", "GET", "/ui/api/session", map[string]string{"Cookie": strings.Replace(cookie, "demo|", "other|", 1)}, 401},
		{"overview", "GET", "/ui/api/overview", map[string]string{"Cookie": cookie}, 200},
		{"erase without CSRF", "DELETE", "/ui/api/visitors/v1", map[string]string{"Cookie": cookie}, 403},
		{"erase with a wrong CSRF", "DELETE", "/ui/api/visitors/v1", map[string]string{"Cookie": cookie, "X-CSRF-Token": "x"}, 403},
		{"logout without CSRF", "POST", "/ui/api/logout", map[string]string{"Cookie": cookie}, 403},
		{"logout", "POST", "/ui/api/logout", map[string]string{"Cookie": cookie, "X-CSRF-Token": s.CSRF}, 200},
	}
	for _, tc := range checks {
		if resp, body := do(t, srv, tc.method, tc.path, "", tc.hdr); resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
	}
}

// The sign-in is open to anyone, so its body is read only up to a few KB:
// a huge token is refused with 413 naming the limit, not read whole.
func TestSignInBodyIsBounded(t *testing.T) {
	srv := newServer(t)
	const size = 64 << 20
	var sent atomic.Int64
	body := io.MultiReader(strings.NewReader(`{"site":"demo","token":"`), io.LimitReader(zeros{}, size), strings.NewReader(`"}`))
	req, _ := http.NewRequest("POST", srv.URL+"/ui/api/login", countingReader{body, &sent})
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "4096 bytes") {
		t.Errorf("a %d MB sign-in body: %d %s, want 413 naming the 4096 bytes limit", size>>20, resp.StatusCode, b)
	}
	if n := sent.Load(); n >= size/2 {
		t.Errorf("the client sent %d bytes of a %d bytes body: the server read on past the limit", n, size)
	}
}

// zeros is an endless stream of '0'.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestStaticPagesAndDemoShop(t *testing.T) {
	srv := newServer(t)
	cases := []struct{ path, want, ctype string }{
		{"/ui/", `<script src="app.js">`, "text/html"},
		{"/ui/app.js", "X-CSRF-Token", "javascript"},
		{"/ui/app.css", "svg.chart", "text/css"},
		{"/demo/shop", `/t.js?k=wk_demo`, "text/html"},
		{"/demo/shop", `<noscript><img src="//`, "text/html"},
		{"/demo/shop", `data-id="canon-eos-250d"`, "text/html"},
	}
	for _, tc := range cases {
		resp, body := do(t, srv, "GET", tc.path, "", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, tc.want) || !strings.Contains(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s: %d %s, body lacks %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.want)
		}
	}
	if resp, _ := do(t, srv, "GET", "/ui/", "", nil); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Error("dashboard served without a CSP")
	}
}

// TestEraseFromTheDashboard goes cookie + CSRF → dashboard → privacy API
// (in process, with the site's admin token) → ClickHouse.
func TestEraseFromTheDashboard(t *testing.T) {
	srv, db := newServerDB(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	for _, vid := range []string{"v-erase", "v-keep"} {
		if err := db.InsertRow(ctx, "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id)", "demo", uuid.New(), now, now, "page_view", vid); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	var s struct{ CSRF string }
	json.Unmarshal([]byte(body), &s)
	cookie := strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]
	resp, body = do(t, srv, "DELETE", "/ui/api/visitors/v-erase", "", map[string]string{"Cookie": cookie, "X-CSRF-Token": s.CSRF})
	if resp.StatusCode != 200 || !strings.Contains(body, `"status":"done"`) {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	var left, kept uint64
	db.QueryRow(ctx, "SELECT countIf(visitor_id = 'v-erase'), countIf(visitor_id = 'v-keep') FROM events").Scan(&left, &kept)
	if left != 0 || kept != 1 {
		t.Fatalf("after erasure: %d rows of the erased visitor, %d of the other", left, kept)
	}
	var by string
	db.QueryRow(ctx, "SELECT requested_by FROM erasure_log").Scan(&by)
	if !strings.HasPrefix(by, "dashboard:") {
		t.Fatalf("erasure_log requested_by %q, want the dashboard", by)
	}
}

// A blank visitor id is refused, as the erase API refuses it, instead of
// showing every visitor without a user id (an empty user_id) as one person.
func TestVisitorLookupRefusesABlankID(t *testing.T) {
	srv, db := newServerDB(t)
	now := time.Now().UTC().Truncate(time.Second)
	for _, vid := range []string{"anon-1", "anon-2"} {
		if err := db.InsertRow(context.Background(), "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id)", "demo", uuid.New(), now, now, "page_view", vid); err != nil {
			t.Fatal(err)
		}
	}
	resp, _ := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	cookie := map[string]string{"Cookie": strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]}
	for _, path := range []string{"/ui/api/visitors/", "/ui/api/visitors/%20%20", "/ui/api/visitors/" + strings.Repeat("v", 201)} {
		if resp, body := do(t, srv, "GET", path, "", cookie); resp.StatusCode != 400 || !strings.Contains(body, "visitor id must be 1-200 characters") {
			t.Errorf("GET %.40s: %d %s, want 400 naming the visitor id", path, resp.StatusCode, body)
		}
	}
	if resp, body := do(t, srv, "GET", "/ui/api/visitors/anon-1", "", cookie); resp.StatusCode != 200 || strings.Contains(body, "anon-2") {
		t.Errorf("GET anon-1: %d %s, want 200 with anon-1 alone", resp.StatusCode, body)
	}
}

// Ids with "/" are looked up and erased from the dashboard like any other,
// visitors and users both.
func TestDashboardErasesIdsWithSlashes(t *testing.T) {
	srv, db := newServerDB(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	for _, e := range [][2]string{{"a/b", ""}, {"v-phone", "org/42"}, {"v-keep", ""}} {
		if err := db.InsertRow(ctx, "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id)", "demo", uuid.New(), now, now, "page_view", e[0], e[1]); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	var s struct{ CSRF string }
	json.Unmarshal([]byte(body), &s)
	auth := map[string]string{"Cookie": strings.Split(resp.Header.Get("Set-Cookie"), ";")[0], "X-CSRF-Token": s.CSRF}

	resp, body = do(t, srv, "GET", "/ui/api/visitors/a%2Fb", "", auth)
	if resp.StatusCode != 200 || !strings.Contains(body, `"query":"a/b"`) || !strings.Contains(body, `"page_view"`) {
		t.Fatalf("lookup a/b: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, srv, "GET", "/ui/api/visitors/org%2F42", "", auth)
	if resp.StatusCode != 200 || !strings.Contains(body, `"user":true`) || !strings.Contains(body, "v-phone") {
		t.Fatalf("lookup org/42: %d %s", resp.StatusCode, body)
	}
	for _, tc := range []struct{ path, gone string }{
		{"/ui/api/visitors/a%2Fb", "visitor_id = 'a/b'"},
		{"/ui/api/users/org%2F42", "user_id = 'org/42' OR visitor_id = 'v-phone'"},
	} {
		resp, body := do(t, srv, "DELETE", tc.path, "", auth)
		if resp.StatusCode != 200 || !strings.Contains(body, `"status":"done"`) {
			t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
		}
		var n uint64
		db.QueryRow(ctx, "SELECT count() FROM events WHERE "+tc.gone).Scan(&n)
		if n != 0 {
			t.Errorf("%s: %d events left", tc.path, n)
		}
	}
	var kept uint64
	db.QueryRow(ctx, "SELECT count() FROM events WHERE visitor_id = 'v-keep'").Scan(&kept)
	if kept != 1 {
		t.Fatal("the other visitor was erased too")
	}
}

// The product page lists each related product once, in the relation's
// order, with every kind that found it: v_related_products has a row per
// kind.
func TestProductPageListsEachRelatedProductOnce(t *testing.T) {
	srv, db := newServerDB(t)
	ctx := context.Background()
	var ps []catalog.Product
	for _, id := range []string{"cam", "lens", "bag"} {
		ps = append(ps, catalog.Product{ID: id, Title: "T " + id, Price: 100, Currency: "USD", Availability: catalog.InStock, Condition: "new"})
	}
	if _, err := catalog.NewStore(db, nil).Upsert(ctx, "demo", ps, "test"); err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		related, kind, strategy, reason string
		rank, position                  uint32
	}{
		{"bag", "co_view", "similar", "Often viewed with T cam", 2, 2},
		{"lens", "co_purchase", "cross_sell", "Goes with your T cam", 1, 1},
		{"lens", "co_view", "cross_sell", "Goes with your T cam", 1, 1},
		{"bag", "category_fallback", "similar", "Popular alternative to T cam", 1, 2},
	}
	for _, r := range rows {
		if err := db.InsertRow(ctx, `INSERT INTO seg_related (site, run_id, product_id, related_id, kind, strategy, score, rank, reason, position)`,
			"demo", "r1", "cam", r.related, r.kind, r.strategy, 1.0, r.rank, r.reason, r.position); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.InsertRow(ctx, "INSERT INTO seg_current (site, run_id, switched)", "demo", "r1", uint64(1)); err != nil {
		t.Fatal(err)
	}
	resp, _ := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	cookie := strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]
	resp, body := do(t, srv, "GET", "/ui/api/products/cam", "", map[string]string{"Cookie": cookie})
	if resp.StatusCode != 200 {
		t.Fatalf("product: %d %s", resp.StatusCode, body)
	}
	var got struct {
		Related []struct {
			RelatedID string   `json:"related_id"`
			Position  uint32   `json:"position"`
			Strategy  string   `json:"strategy"`
			Kinds     []string `json:"kinds"`
			Reason    string   `json:"reason"`
		} `json:"related"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"lens 1 cross_sell [co_purchase co_view] Goes with your T cam", "bag 2 similar [category_fallback co_view] Popular alternative to T cam"}
	var have []string
	for _, r := range got.Related {
		have = append(have, fmt.Sprintf("%s %d %s %v %s", r.RelatedID, r.Position, r.Strategy, r.Kinds, r.Reason))
	}
	if strings.Join(have, "\n") != strings.Join(want, "\n") {
		t.Errorf("related rows:\n%s\nwant:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
}

// The overview's latest runs read seg_runs by its key; they show what
// v_segment_runs, which groups every site's runs, shows of them: each
// run's newest state, only this site's, the current one marked.
func TestOverviewShowsTheLatestRuns(t *testing.T) {
	srv, db := newServerDB(t)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	type state struct {
		status, err string
		finished    time.Duration
	}
	runs := []struct {
		site, id string
		started  time.Duration
		states   []state
	}{
		{"demo", "r01", 0, []state{{"running", "", -1}, {"ok", "", 40 * time.Second}}},
		{"demo", "r02", 15 * time.Minute, []state{{"running", "", -1}, {"ok", "", 50 * time.Second}}},
		{"demo", "r03", 30 * time.Minute, []state{{"running", "", -1}, {"running", "", -1}, {"ok", "", 70 * time.Second}}},
		{"demo", "r04", 45 * time.Minute, []state{{"running", "", -1}, {"failed", "abandoned: silent", 20 * time.Minute}}},
		{"demo", "r05", 60 * time.Minute, []state{{"running", "", -1}, {"ok", "", 30 * time.Second}}},
		// Started in the same second as r05.
		{"demo", "r06", 60 * time.Minute, []state{{"running", "", -1}, {"failed", "cannot record the run finished", 10 * time.Second}}},
		{"demo", "r07", 75 * time.Minute, []state{{"running", "", -1}}},
		{"other", "r08", 90 * time.Minute, []state{{"running", "", -1}, {"ok", "", time.Minute}}},
	}
	// Unmerged, as a run's rows are until ClickHouse merges them.
	if err := db.Exec(ctx, "SYSTEM STOP MERGES seg_runs"); err != nil {
		t.Fatal(err)
	}
	updated := uint64(1)
	for _, r := range runs {
		for _, s := range r.states {
			finished := time.Unix(0, 0).UTC()
			if s.finished >= 0 {
				finished = start.Add(r.started + s.finished)
			}
			if err := db.InsertRow(ctx, "INSERT INTO seg_runs (site, run_id, started_at, finished_at, status, error, as_of, audiences, updated)",
				r.site, r.id, start.Add(r.started), finished, s.status, s.err, start.Add(r.started), []string{}, updated); err != nil {
				t.Fatal(err)
			}
			updated++
		}
	}
	for _, c := range []struct{ site, run string }{{"demo", "r02"}, {"demo", "r03"}, {"other", "r08"}} {
		if err := db.InsertRow(ctx, "INSERT INTO seg_current (site, run_id, switched)", c.site, c.run, updated); err != nil {
			t.Fatal(err)
		}
		updated++
	}
	resp, _ := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	cookie := strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]
	resp, body := do(t, srv, "GET", "/ui/api/overview", "", map[string]string{"Cookie": cookie})
	if resp.StatusCode != 200 {
		t.Fatalf("overview: %d %s", resp.StatusCode, body)
	}
	var got struct {
		Runs []map[string]any `json:"runs"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	have, _ := json.Marshal(got.Runs)
	want := `[{"error":"","finished_at":"1970-01-01T00:00:00Z","is_current":0,"run_id":"r07","seconds":0,"started_at":"2026-03-01T11:15:00Z","status":"running"},` +
		`{"error":"cannot record the run finished","finished_at":"2026-03-01T11:00:10Z","is_current":0,"run_id":"r06","seconds":10,"started_at":"2026-03-01T11:00:00Z","status":"failed"},` +
		`{"error":"","finished_at":"2026-03-01T11:00:30Z","is_current":0,"run_id":"r05","seconds":30,"started_at":"2026-03-01T11:00:00Z","status":"ok"},` +
		`{"error":"abandoned: silent","finished_at":"2026-03-01T11:05:00Z","is_current":0,"run_id":"r04","seconds":1200,"started_at":"2026-03-01T10:45:00Z","status":"failed"},` +
		`{"error":"","finished_at":"2026-03-01T10:31:10Z","is_current":1,"run_id":"r03","seconds":70,"started_at":"2026-03-01T10:30:00Z","status":"ok"}]`
	if string(have) != want {
		t.Errorf("runs:\n%s\nwant:\n%s", have, want)
	}
	// And what the history view shows of them.
	var old []map[string]any
	rs, err := db.Query(ctx, `SELECT run_id, status, started_at, finished_at,
			if(status = 'running', toInt64(0), toInt64(finished_at) - toInt64(started_at)) AS seconds, error, is_current
		FROM v_segment_runs WHERE site = 'demo' ORDER BY started_at DESC, run_id DESC LIMIT 5`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var id, status, msg string
		var started, finished time.Time
		var seconds int64
		var current uint8
		if err := rs.Scan(&id, &status, &started, &finished, &seconds, &msg, &current); err != nil {
			t.Fatal(err)
		}
		old = append(old, map[string]any{"run_id": id, "status": status, "started_at": started.UTC(), "finished_at": finished.UTC(), "seconds": seconds, "error": msg, "is_current": current})
	}
	rs.Close()
	if fromView, _ := json.Marshal(old); string(fromView) != string(have) {
		t.Errorf("runs:\n%s\nv_segment_runs:\n%s", have, fromView)
	}
}

// A product id may hold "/": the product page reads the rest of the path.
func TestProductPageOfIDWithSlash(t *testing.T) {
	srv, db := newServerDB(t)
	p := catalog.Product{ID: "CAM/250D", Title: "Canon", Price: 100, Currency: "USD", Availability: catalog.InStock, Condition: "new"}
	if _, err := catalog.NewStore(db, nil).Upsert(context.Background(), "demo", []catalog.Product{p}, "test"); err != nil {
		t.Fatal(err)
	}
	resp, _ := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	cookie := map[string]string{"Cookie": strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]}
	for _, path := range []string{"/ui/api/products/CAM/250D", "/ui/api/products/CAM%2F250D"} {
		resp, body := do(t, srv, "GET", path, "", cookie)
		if resp.StatusCode != 200 || !strings.Contains(body, `"CAM/250D"`) {
			t.Errorf("GET %s = %d %s, want the product", path, resp.StatusCode, body)
		}
	}
}
