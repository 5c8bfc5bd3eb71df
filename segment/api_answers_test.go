package segment_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

// cartsShop is a shop with one cart abandoner and an audience of them,
// served by the segment API.
func cartsShop(t *testing.T) (*chdb.DB, *segment.API, func(method, path, body string) (int, []byte)) {
	t.Helper()
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db, ev{vid: "v1", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"})
	zero := 0.0
	aud := config.Audience{Name: "carts", Strategy: config.Reminder, HoldoutPercent: &zero,
		Include: []config.Condition{{Stage: config.Carted}}}
	api, call := serveAPI(t, db, testConfig(t, aud))
	return db, api, call
}

// An audience deleted through the API is gone from the next snapshot,
// also when that is a run of one other audience (which carries the rest
// over from the current run).
func TestADeletedAudienceIsNotCarriedOver(t *testing.T) {
	db, api, call := cartsShop(t)
	if code, body := call("PUT", "/api/sites/shop/audiences/gone", `{"strategy":"reminder","holdout_percent":0,"include":[{"stage":"carted"}]}`); code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	run(t, api.Engine())
	if got := members(t, db, "gone"); len(got) != 1 {
		t.Fatalf("before the delete, gone has %v: nothing to check", got)
	}
	if code, body := call("DELETE", "/api/sites/shop/audiences/gone", ""); code != 204 {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	res, err := api.Engine().Run(context.Background(), site, segment.RunOptions{Audience: "carts"})
	if err != nil {
		t.Fatal(err)
	}
	if got := members(t, db, "gone"); len(got) != 0 || res.Sizes["gone"] != 0 {
		t.Errorf("the deleted audience still has members %v (sizes %v)", got, res.Sizes)
	}
	if got := members(t, db, "carts"); len(got) != 1 {
		t.Errorf("carts has %v, want v1", got)
	}
}

// Audience values are written into the statement text, and one step holds
// every audience's conditions: two audiences with long product lists
// (each accepted by the API) passed the server's default 256 KiB and
// failed every run of the site.
func TestLongProductListsDoNotFailTheRun(t *testing.T) {
	_, _, call := cartsShop(t)
	ids := strings.TrimSuffix(strings.Repeat(`"a",`, 16000), ",")
	for _, name := range []string{"big1", "big2"} {
		body := `{"strategy":"upsell","holdout_percent":0,"include":[{"events":["product_view"],"products":[` + ids + `]}]}`
		if code, out := call("PUT", "/api/sites/shop/audiences/"+name, body); code != 200 {
			t.Fatalf("PUT %s: %d %.200s", name, code, out)
		}
	}
	if code, out := call("POST", "/api/sites/shop/segments/run?wait=1", ""); code != 200 {
		t.Fatalf("the run: %d %.300s", code, out)
	}
}

// min_score with products and categories narrows the products by the
// categories, as every other condition does (the categories were left
// out without a word).
func TestMinScoreNarrowsItsProductsByCategory(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db, ev{vid: "v1", ago: day, typ: "product_view", pid: "cam250d"})
	_, call := serveAPI(t, db, testConfig(t))
	for _, c := range []struct {
		categories string
		want       uint64
	}{{`"Accessories > Bags"`, 0}, {`"Cameras"`, 1}} {
		code, body := call("POST", "/api/sites/shop/audiences/x/dry-run",
			`{"strategy":"upsell","holdout_percent":0,"include":[{"min_score":0.1,"products":["cam250d"],"categories":[`+c.categories+`]}]}`)
		var out struct{ Members uint64 }
		if err := json.Unmarshal(body, &out); err != nil || code != 200 {
			t.Fatalf("dry run: %d %s", code, body)
		}
		if out.Members != c.want {
			t.Errorf("min_score on cam250d (a DSLR) within %s: %d members, want %d", c.categories, out.Members, c.want)
		}
	}
}

// POST …/segments/run says "started" only of a run that will happen: a
// run of the site going already is 409, an unknown audience 404.
func TestRunRequestsThatCannotStartSaySo(t *testing.T) {
	_, api, call := cartsShop(t)
	for _, path := range []string{"/api/sites/shop/segments/run?audience=ghost", "/api/sites/shop/segments/run?audience=ghost&wait=1"} {
		if code, body := call("POST", path, ""); code != 404 || !strings.Contains(string(body), "ghost") {
			t.Errorf("POST %s: %d %s, want 404 naming the audience", path, code, body)
		}
	}
	e := api.Engine()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.SetBeforeSwitch(func(context.Context, string, string) error {
		once.Do(func() { close(entered); <-release })
		return nil
	})
	done := make(chan error, 1)
	go func() { _, err := e.Run(context.Background(), site, segment.RunOptions{}); done <- err }()
	<-entered
	for _, path := range []string{"/api/sites/shop/segments/run", "/api/sites/shop/segments/run?wait=1"} {
		if code, body := call("POST", path, ""); code != 409 {
			t.Errorf("POST %s while a run is going: %d %s, want 409", path, code, body)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code, body := call("POST", "/api/sites/shop/segments/run", ""); code != 202 {
		t.Errorf("POST run once the other ended: %d %s, want 202", code, body)
	}
	api.Wait()
}

// A person who opted out after the run gets no recommendations from
// …/visitors/{vid}/recommendations, as the member export leaves them out:
// on the same browser, and on another device signed in as the same user.
func TestRecommendationsLeaveOutWhoOptedOutSinceTheRun(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db,
		ev{vid: "solo", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"},
		ev{vid: "ann-phone", uid: "ann", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"},
		ev{vid: "bob", uid: "bob", ago: 3 * day, typ: "add_to_cart", pid: "cam250d"},
	)
	zero := 0.0
	aud := config.Audience{Name: "carts", Strategy: config.Reminder, HoldoutPercent: &zero,
		Include: []config.Condition{{Stage: config.Carted}}}
	api, call := serveAPI(t, db, testConfig(t, aud))
	run(t, api.Engine())
	items := func(vid string) int {
		code, body := call("GET", "/api/sites/shop/visitors/"+vid+"/recommendations", "")
		var out struct{ Items []json.RawMessage }
		if err := json.Unmarshal(body, &out); err != nil || code != 200 {
			t.Fatalf("%s: %d %s", vid, code, body)
		}
		return len(out.Items)
	}
	for _, v := range []string{"solo", "ann-phone", "bob"} {
		if items(v) == 0 {
			t.Fatalf("%s has no recommendations before opting out: nothing to check", v)
		}
	}
	insertEvents(t, db,
		ev{vid: "solo", ago: time.Hour, typ: "page_view", optedOut: true},
		ev{vid: "ann-laptop", uid: "ann", ago: time.Hour, typ: "page_view", optedOut: true},
	)
	for _, v := range []string{"solo", "ann-phone"} {
		if n := items(v); n != 0 {
			t.Errorf("%s opted out after the run and is still served %d recommendations", v, n)
		}
	}
	if items("bob") == 0 {
		t.Error("bob, who did not opt out, lost his recommendations")
	}
}

// An empty trait value matched every visitor without the trait: it is
// refused, naming the trait, and one stored before that check is skipped
// instead of failing every run of the site (every definition of a run is
// validated again).
func TestAnEmptyTraitValueIsRefusedAndAStoredOneSkipped(t *testing.T) {
	db, _, call := cartsShop(t)
	code, body := call("PUT", "/api/sites/shop/audiences/vips", `{"strategy":"upsell","include":[{"traits":{"vip":""}}]}`)
	if code != 400 || !strings.Contains(string(body), "include[0].traits.vip") {
		t.Errorf("PUT with an empty trait value: %d %s, want 400 naming include[0].traits.vip", code, body)
	}
	if err := db.InsertRow(context.Background(), "INSERT INTO seg_audience_defs (site, name, definition, deleted, updated)",
		site, "vips", `{"name":"vips","strategy":"upsell","include":[{"traits":{"vip":""}}]}`, uint8(0), uint64(time.Now().UnixNano())); err != nil {
		t.Fatal(err)
	}
	if code, body := call("POST", "/api/sites/shop/segments/run?wait=1", ""); code != 200 {
		t.Fatalf("run beside the stored definition: %d %s", code, body)
	}
	if got := members(t, db, "vips"); len(got) != 0 {
		t.Errorf("vips = %v, want no members", got)
	}
	if got := members(t, db, "carts"); len(got) != 1 {
		t.Errorf("carts = %v, want [v1]", got)
	}
	// Skipped, it is still there to delete.
	if code, body := call("DELETE", "/api/sites/shop/audiences/vips", ""); code != 204 {
		t.Errorf("DELETE of the skipped definition: %d %s, want 204", code, body)
	}
	if code, body := call("DELETE", "/api/sites/shop/audiences/vips", ""); code != 404 {
		t.Errorf("DELETE again: %d %s, want 404", code, body)
	}
}

// A definition stored through an instance whose clock is behind the one
// that stored the previous version is the newest all the same (the
// latest version was the one with the highest clock reading: the PUT
// answered 200 and was never in effect, and so was a DELETE).
func TestADefinitionFromASlowClockIsTheNewest(t *testing.T) {
	db, _, call := cartsShop(t)
	// Another instance, its clock a minute ahead, stored "late" just now.
	ahead := uint64(time.Now().Add(time.Minute).UnixNano())
	if err := db.InsertRow(context.Background(), "INSERT INTO seg_audience_defs (site, name, definition, deleted, updated)",
		site, "late", `{"name":"late","strategy":"upsell","include":[{"stage":"browsed"}]}`, uint8(0), ahead); err != nil {
		t.Fatal(err)
	}
	if code, body := call("PUT", "/api/sites/shop/audiences/late", `{"strategy":"reminder","include":[{"stage":"carted"}]}`); code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	code, body := call("GET", "/api/sites/shop/audiences/late", "")
	var got struct{ Strategy string }
	if err := json.Unmarshal(body, &got); code != 200 || err != nil || got.Strategy != config.Reminder {
		t.Errorf("GET after the PUT: %d %s, want the PUT's reminder", code, body)
	}
	if code, body := call("DELETE", "/api/sites/shop/audiences/late", ""); code != 204 {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if code, body := call("GET", "/api/sites/shop/audiences/late", ""); code != 404 {
		t.Errorf("GET after the DELETE: %d %s, want 404", code, body)
	}
}

// An audience's members are one statement, a SELECT per condition: one
// audience of 1,400 excludes (63 KB, under the body limit) made a run of
// this one-visitor shop take 1m42s instead of 2.6s. Excludes are bounded
// as includes are.
func TestExcludesAreBounded(t *testing.T) {
	_, _, call := cartsShop(t)
	ex := make([]string, config.MaxExcludes+1)
	for i := range ex {
		ex[i] = `{"events":["page_view"],"products":["p` + strconv.Itoa(i) + `"]}`
	}
	body := `{"strategy":"upsell","include":[{"events":["product_view"]}],"exclude":[` + strings.Join(ex, ",") + `]}`
	if code, out := call("PUT", "/api/sites/shop/audiences/many", body); code != 400 || !strings.Contains(string(out), "exclude: at most 64") {
		t.Errorf("PUT with %d excludes: %d %.200s, want 400 naming exclude", len(ex), code, out)
	}
	body = `{"strategy":"upsell","include":[{"events":["product_view"]}],"exclude":[` + strings.Join(ex[1:], ",") + `]}`
	if code, out := call("PUT", "/api/sites/shop/audiences/many", body); code != 200 {
		t.Errorf("PUT with %d excludes: %d %.200s", len(ex)-1, code, out)
	}
}

// A run's profiles pass evaluates every events condition of the site in
// one statement: four audiences of 64 includes and 64 excludes, each
// accepted, made every run of the site fail ("AST is too big. Maximum:
// 50000", a 500 from POST …/segments/run). The API refuses the definition
// that would pass config.MaxSiteEventConditions, and stores nothing;
// runs at the bound work.
func TestASitesEventConditionsAreBounded(t *testing.T) {
	_, _, call := cartsShop(t)
	maxed := func(k int) string {
		var inc, exc []string
		for i := range config.MaxIncludes {
			c := `"categories":["Cameras"],"products":["cam250d","p` + strconv.Itoa(k*100+i) + `"],"since":"30d","until":"1d","min_count":2,"max_count":9}`
			inc = append(inc, `{"events":["product_view","add_to_cart"],`+c)
			exc = append(exc, `{"events":["purchase"],`+c)
		}
		return `{"strategy":"upsell","include":[` + strings.Join(inc, ",") + `],"exclude":[` + strings.Join(exc, ",") + `]}`
	}
	// The carts audience holds no events condition: two of these make 256.
	for k := range 4 {
		name := "maxed" + strconv.Itoa(k)
		code, out := call("PUT", "/api/sites/shop/audiences/"+name, maxed(k))
		switch {
		case k < 2 && code != 200:
			t.Fatalf("PUT %s: %d %.300s", name, code, out)
		case k >= 2 && (code != 400 || !strings.Contains(string(out), "at most 256")):
			t.Errorf("PUT %s: %d %.300s, want 400 naming the bound", name, code, out)
		case k >= 2:
			if code, _ := call("GET", "/api/sites/shop/audiences/"+name, ""); code != 404 {
				t.Errorf("GET %s after its refusal: %d, want 404", name, code)
			}
		}
	}
	if code, out := call("POST", "/api/sites/shop/segments/run?wait=1", ""); code != 200 {
		t.Fatalf("the run: %d %.300s", code, out)
	}
	// Replacing an audience counts its new definition, not both.
	if code, out := call("PUT", "/api/sites/shop/audiences/maxed1", maxed(5)); code != 200 {
		t.Errorf("PUT maxed1 again: %d %.300s", code, out)
	}
}

// A key given twice in a definition kept only its last value without a
// word: a second "exclude" (or one spelt "Exclude", which encoding/json
// takes for the same field) dropped the first's conditions, and a
// repeated "since" widened the window. It is refused, naming the key;
// trait keys differing in case are two traits.
func TestAKeyGivenTwiceIsRefused(t *testing.T) {
	_, _, call := cartsShop(t)
	for body, field := range map[string]string{
		`{"strategy":"upsell","include":[{"events":["product_view"]}],"exclude":[{"events":["purchase"]}],"exclude":[]}`:    "exclude",
		`{"strategy":"upsell","include":[{"events":["product_view"]}],"exclude":[{"events":["purchase"]}],"Exclude":[]}`:    "Exclude",
		`{"strategy":"upsell","include":[{"events":["product_view"]},{"events":["purchase"],"since":"7d","since":"700d"}]}`: "include[1].since",
		`{"strategy":"upsell","include":[{"traits":{"tier":"gold","tier":"bronze"}}]}`:                                      "include[0].traits.tier",
	} {
		code, out := call("PUT", "/api/sites/shop/audiences/twice", body)
		if code != 400 || !strings.Contains(string(out), field+": given twice") {
			t.Errorf("PUT %s: %d %s, want 400 naming %s", body, code, out, field)
		}
	}
	if code, _ := call("GET", "/api/sites/shop/audiences/twice", ""); code != 404 {
		t.Errorf("GET after the refusals: %d, want 404", code)
	}
	if code, out := call("PUT", "/api/sites/shop/audiences/twice", `{"strategy":"upsell","include":[{"traits":{"tier":"gold","Tier":"gold"}}]}`); code != 200 {
		t.Errorf("PUT with traits tier and Tier: %d %s", code, out)
	}
}

// Windows are bound in whole seconds: a window or since under a second
// (JSON's bare numbers are seconds: "window": 0.5) became 0 seconds, so
// the audience admitted nobody (a window of 0 means no limit). Refused,
// naming the field.
func TestSpansUnderASecondAreRefused(t *testing.T) {
	_, _, call := cartsShop(t)
	for body, field := range map[string]string{
		`{"strategy":"reminder","window":0.5,"include":[{"stage":"carted"}]}`:    "window",
		`{"strategy":"reminder","include":[{"stage":"carted","since":"500ms"}]}`: "include[0].since",
	} {
		code, out := call("PUT", "/api/sites/shop/audiences/short", body)
		if code != 400 || !strings.Contains(string(out), field+": ") {
			t.Errorf("PUT %s: %d %s, want 400 naming %s", body, code, out, field)
		}
	}
	if code, out := call("GET", "/api/sites/shop/audiences/short", ""); code != 404 {
		t.Errorf("GET after the refusals: %d %s", code, out)
	}
}
