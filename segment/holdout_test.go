package segment_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

const holdoutKey = "test-holdout-key"

func viewers(name string, holdout *float64) config.Audience {
	return config.Audience{Name: name, Strategy: config.Upsell, HoldoutPercent: holdout,
		Include: []config.Condition{{Events: []string{"product_view"}}}}
}

// groups reads visitor → group of an audience in the current run.
func groups(t *testing.T, db *chdb.DB, audience string) map[string]string {
	t.Helper()
	rows, err := db.Query(context.Background(), "SELECT visitor_id, grp FROM v_audience_members WHERE site = ? AND audience = ?", site, audience)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var v, g string
		if err := rows.Scan(&v, &g); err != nil {
			t.Fatal(err)
		}
		out[v] = g
	}
	return out
}

func TestHoldoutGroupIsTheDocumentedHash(t *testing.T) {
	// The first 8 bytes of SHA-256("k|s|a|v:x"), big-endian, modulo
	// 10,000 are 2295 (ClickHouse's reinterpretAsUInt64(reverse(...))
	// says the same): held out from 22.96% on.
	for _, c := range []struct {
		percent float64
		want    string
	}{{22.95, segment.Treatment}, {22.96, segment.Holdout}, {0, segment.Treatment}, {50, segment.Holdout}} {
		if got := segment.HoldoutGroup("k", "s", "a", "v:x", c.percent); got != c.want {
			t.Errorf("bucket 2295 at %g%%: %s, want %s", c.percent, got, c.want)
		}
	}
	if segment.PersonKey("u1", "v1") != "u:u1" || segment.PersonKey("", "v1") != "v:v1" {
		t.Error("a person is their user id, else their visitor id")
	}
}

// TestHoldoutIsStableAcrossRunsAndSharedByDevices: the run computes the
// documented hash per person, so a user's devices share a group, and the
// groups do not change from one run to the next.
func TestHoldoutIsStableAcrossRunsAndSharedByDevices(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	// A user whose own hash is holdout, and a device whose visitor id
	// alone would be treatment: the device must follow the user.
	user, device := "", ""
	for i := 0; user == "" || device == ""; i++ {
		if u := fmt.Sprintf("user-%d", i); user == "" && segment.HoldoutGroup(holdoutKey, site, "viewers", "u:"+u, 10) == segment.Holdout {
			user = u
		}
		if v := fmt.Sprintf("device-%d", i); device == "" && segment.HoldoutGroup(holdoutKey, site, "viewers", "v:"+v, 10) == segment.Treatment {
			device = v
		}
	}
	evs := []ev{
		{vid: "laptop", uid: user, ago: 2 * day, typ: "product_view", pid: "cam250d"},
		{vid: device, ago: day, typ: "product_view", pid: "cam90d"},
		{vid: device, uid: user, ago: day / 2, typ: "identify"},
	}
	for i := range 300 {
		evs = append(evs, ev{vid: fmt.Sprintf("anon-%03d", i), ago: day, typ: "product_view", pid: "cam250d"})
	}
	insertEvents(t, db, evs...)
	zero := 0.0
	cfg := testConfig(t, viewers("viewers", nil), viewers("everyone", &zero))
	cfg.HoldoutKey = holdoutKey
	e := newEngine(t, db, cfg)

	run(t, e)
	first := groups(t, db, "viewers")
	if len(first) != 302 {
		t.Fatalf("%d members, want 302", len(first))
	}
	if first["laptop"] != segment.Holdout || first[device] != segment.Holdout {
		t.Errorf("the user's devices are %s and %s, want both holdout", first["laptop"], first[device])
	}
	held := 0
	for v, g := range first {
		if v == "laptop" || v == device {
			continue
		}
		if want := segment.HoldoutGroup(holdoutKey, site, "viewers", "v:"+v, 10); g != want {
			t.Errorf("%s is %s in ClickHouse, %s by the documented hash", v, g, want)
		}
		if g == segment.Holdout {
			held++
		}
	}
	if held < 15 || held > 50 {
		t.Errorf("%d of 300 anonymous members held out at 10%%", held)
	}
	for v, g := range groups(t, db, "everyone") {
		if g != segment.Treatment {
			t.Errorf("holdout_percent 0: %s is %s", v, g)
		}
	}

	run(t, e)
	second := groups(t, db, "viewers")
	for v, g := range first {
		if second[v] != g {
			t.Errorf("%s moved from %s to %s between runs", v, g, second[v])
		}
	}
	// A single-audience run carries the others over with their groups.
	if _, err := e.Run(context.Background(), site, segment.RunOptions{Audience: "everyone"}); err != nil {
		t.Fatal(err)
	}
	for v, g := range groups(t, db, "viewers") {
		if first[v] != g {
			t.Errorf("carried over: %s moved from %s to %s", v, first[v], g)
		}
	}
}

// TestRecommendationsLeaveOutTheHoldout: a held-out member's products are
// computed (v_visitor_recommendations) but never served to the shop.
func TestRecommendationsLeaveOutTheHoldout(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	half := 50.0
	held, treated := "", ""
	for i := 0; held == "" || treated == ""; i++ {
		v := fmt.Sprintf("visitor-%d", i)
		if segment.HoldoutGroup(holdoutKey, site, "viewers", "v:"+v, half) == segment.Holdout {
			held = cmp.Or(held, v)
		} else {
			treated = cmp.Or(treated, v)
		}
	}
	insertEvents(t, db,
		ev{vid: held, ago: day, typ: "product_view", pid: "cam250d"},
		ev{vid: treated, ago: day, typ: "product_view", pid: "cam250d"},
	)
	cfg := testConfig(t, viewers("viewers", &half))
	cfg.HoldoutKey = holdoutKey
	api, call := serveAPI(t, db, cfg)
	run(t, api.Engine())
	if n := strings1(t, db, "SELECT product_id FROM v_visitor_recommendations WHERE site = ? AND visitor_id = ?", site, held); len(n) == 0 {
		t.Fatal("the held-out member has no computed recommendations")
	}
	for v, want := range map[string]int{held: 0, treated: 1} {
		code, body := call("GET", "/api/sites/shop/visitors/"+v+"/recommendations", "")
		var out struct{ Items []struct{ Audience string } }
		if err := json.Unmarshal(body, &out); err != nil || code != 200 {
			t.Fatalf("%s: %d %s", v, code, body)
		}
		if got := min(len(out.Items), 1); got != want {
			t.Errorf("%s (%s): %d items served", v, segment.HoldoutGroup(holdoutKey, site, "viewers", "v:"+v, half), len(out.Items))
		}
	}
}

func groupOf(audience, person string) string {
	return segment.HoldoutGroup(holdoutKey, site, audience, person, 10)
}

// serveAPI is the segment API on the pinned clock; call sends a request
// with the site's admin token and answers the status and body.
func serveAPI(t *testing.T, db *chdb.DB, cfg config.Config) (*segment.API, func(method, path, body string) (int, []byte)) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	r := gin.New()
	api := segment.NewAPI(cfg, db, nil)
	api.Engine().Now = func() time.Time { return now }
	api.Register(r)
	return api, func(method, path, body string) (int, []byte) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer admin-token-0123456789")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code, w.Body.Bytes()
	}
}
