package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
)

// builtinAudiences are the seed's templates that every starter config has.
var builtinAudiences = []string{"viewed_not_bought", "cart_abandoners", "recent_buyers", "category_enthusiasts", "lapsed_customers", "professional_buyers"}

// TestDemoEndToEnd is the first hour of a new user: `remarket demo
// --no-serve` builds everything, a re-run changes nothing, then the server
// serves the demo shop, the dashboard, the feeds and the Segment API to a
// real browser.
func TestDemoEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "remarket.yaml")
	dsn := chtest.DSN(t)
	addr := freeAddr(t)
	t.Setenv("CLICKHOUSE_DSN", dsn)
	t.Setenv("REMARKET_LISTEN", addr)
	t.Setenv("REMARKET_SPOOL_DIR", filepath.Join(dir, "spool"))
	ctx := context.Background()
	db, err := chdb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	start := time.Now()
	var out, errs bytes.Buffer
	if code := Main(ctx, []string{"demo", "--no-serve", "--config", cfgPath}, &out, &errs); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, out.String(), tail(errs.String(), 3000))
	}
	took := time.Since(start)
	firstOutput := out.String()
	t.Logf("remarket demo --no-serve took %s\n%s", took.Round(time.Millisecond), out.String())
	os.WriteFile(filepath.Join(artifactsDir(t), "demo-output.txt"), []byte(fmt.Sprintf("took %s\n%s", took, out.String())), 0o644)

	cfg, err := config.Load(cfgPath, true)
	if err != nil {
		t.Fatal(err)
	}
	site, ok := cfg.Site("demo")
	if !ok || site.WriteKey != "wk_demo" {
		t.Fatalf("config has no demo site with write key wk_demo: %+v", site)
	}
	for _, want := range []string{"/ui/", site.AdminToken, "/demo/shop", "/t.js?k=wk_demo", "<noscript>", "/feeds/demo/", "token=" + site.FeedToken} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	sizes := currentSizes(t, db)
	for _, name := range builtinAudiences {
		if sizes[name] == 0 {
			t.Errorf("built-in audience %s has no members (sizes %v)", name, sizes)
		}
	}
	for _, a := range site.Audiences {
		if sizes[a.Name] == 0 {
			t.Errorf("configured audience %s has no members", a.Name)
		}
	}
	checkDiscounts(t, db, site, sizes)
	events := count(t, db, "SELECT count() FROM v_events WHERE site = 'demo'")
	if bots, opted := count(t, db, "SELECT count() FROM v_events WHERE site = 'demo' AND is_bot = 1"), count(t, db, "SELECT count() FROM v_events WHERE site = 'demo' AND opted_out = 1"); bots == 0 || opted == 0 {
		t.Errorf("demo traffic has %d bot and %d opted-out events; want some of each", bots, opted)
	}
	if span := count(t, db, "SELECT toUInt64(dateDiff('day', min(event_time), max(event_time))) FROM v_events WHERE site = 'demo'"); span < 50 {
		t.Errorf("traffic spans %d days, want about 60", span)
	}

	// Re-running is safe: same secrets, no second copy of the traffic.
	out.Reset()
	errs.Reset()
	if code := Main(ctx, []string{"demo", "--no-serve", "--config", cfgPath}, &out, &errs); code != 0 {
		t.Fatalf("second demo exited %d\n%s\n%s", code, out.String(), tail(errs.String(), 3000))
	}
	again, _ := config.Load(cfgPath, true)
	if s, _ := again.Site("demo"); s.AdminToken != site.AdminToken || s.FeedToken != site.FeedToken {
		t.Error("re-run replaced the demo site's secrets")
	}
	if n := count(t, db, "SELECT count() FROM v_events WHERE site = 'demo'"); n != events {
		t.Errorf("re-run changed the events from %d to %d", events, n)
	}

	base := serveInProcess(t, cfgPath, addr)
	t.Run("shop", func(t *testing.T) { testShop(t, db, base) })
	t.Run("segment_sdk", func(t *testing.T) { testSegmentSDK(t, db, base) })
	t.Run("outcomes", func(t *testing.T) { testOutcomes(t, db, base, site, firstOutput) })
	t.Run("dashboard", func(t *testing.T) { testDashboard(t, base, site) })
	t.Run("editor", func(t *testing.T) { testEditor(t, base, site) })
	t.Run("erasure", func(t *testing.T) { testErasure(t, db, base, site) })
}

// serveInProcess runs `remarket serve` until the test ends.
func serveInProcess(t *testing.T, cfgPath, addr string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var logs bytes.Buffer
	go func() { done <- Main(ctx, []string{"serve", "--config", cfgPath}, &logs, &logs) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up:\n%s", tail(logs.String(), 3000))
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, tail(logs.String(), 3000))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func currentSizes(t *testing.T, db *chdb.DB) map[string]uint64 {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT audience, count() FROM v_audience_members WHERE site = 'demo' GROUP BY audience`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	sizes := map[string]uint64{}
	for rows.Next() {
		var name string
		var n uint64
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		sizes[name] = n
	}
	return sizes
}

// checkDiscounts: every discount rule of the demo site applies to someone:
// its audience has members, its motivation or strategy has products.
func checkDiscounts(t *testing.T, db *chdb.DB, site config.Site, sizes map[string]uint64) {
	t.Helper()
	if len(site.Discounts) == 0 {
		t.Error("the demo site has no discount rules")
	}
	for i, r := range site.Discounts {
		q := "SELECT count() FROM v_audience_products WHERE site = 'demo'"
		var args []any
		if r.Audience != "" {
			q += " AND audience = ?"
			args = append(args, r.Audience)
		}
		if r.Motivation != "" {
			q += " AND motivation = ?"
			args = append(args, r.Motivation)
		}
		if r.Strategy != "" {
			q += " AND strategy = ?"
			args = append(args, r.Strategy)
		}
		if count(t, db, q, args...) == 0 || (r.Audience != "" && sizes[r.Audience] == 0) {
			t.Errorf("discount rule %d (%+v) applies to no audience product", i, r)
		}
	}
}

func count(t *testing.T, db *chdb.DB, q string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// waitEvents polls until q counts at least want rows.
func waitEvents(t *testing.T, db *chdb.DB, want uint64, q string, args ...any) uint64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := count(t, db, q, args...)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func testShop(t *testing.T, db *chdb.DB, base string) {
	requireBrowser(t)
	art := artifactsDir(t)
	t.Run("snippet", func(t *testing.T) {
		run := uuid.NewString()
		var res struct{ Vid, Product string }
		node(t, &res, "shop.mjs", "--base="+base, "--mode=js", "--run="+run, "--out="+art)
		if res.Vid == "" {
			t.Fatal("the snippet stored no visitor id")
		}
		q := "SELECT count() FROM v_events WHERE site = 'demo' AND visitor_id = ? AND product_id = ? AND type IN ('product_view', 'add_to_cart', 'purchase') AND is_bot = 0 AND opted_out = 0"
		if n := waitEvents(t, db, 3, q, res.Vid, res.Product); n != 3 {
			t.Fatalf("%d of product_view, add_to_cart, purchase arrived for visitor %s", n, res.Vid)
		}
		if n := count(t, db, "SELECT uniqExact(visitor_id) FROM v_events WHERE site = 'demo' AND url LIKE ?", "%run="+run+"%"); n != 1 {
			t.Fatalf("the page's events carry %d visitor ids, want 1", n)
		}
	})
	t.Run("gpc", func(t *testing.T) {
		run := uuid.NewString()
		var res struct{}
		node(t, &res, "shop.mjs", "--base="+base, "--mode=gpc", "--run="+run, "--out="+art)
		like := "%run=" + run + "%"
		if n := waitEvents(t, db, 4, "SELECT count() FROM v_events WHERE site = 'demo' AND url LIKE ?", like); n < 4 {
			t.Fatalf("%d events arrived with GPC on, want 4", n)
		}
		if n := count(t, db, "SELECT count() FROM v_events WHERE site = 'demo' AND url LIKE ? AND opted_out = 0", like); n != 0 {
			t.Fatalf("%d events with Sec-GPC: 1 were not marked opted out", n)
		}
	})
	t.Run("noscript", func(t *testing.T) {
		run := uuid.NewString()
		var res struct{ Rmid string }
		node(t, &res, "shop.mjs", "--base="+base, "--mode=noscript", "--run="+run, "--out="+art)
		if res.Rmid == "" {
			t.Fatal("the noscript pixel set no _rmid cookie")
		}
		if n := waitEvents(t, db, 1, "SELECT count() FROM v_events WHERE site = 'demo' AND visitor_id = ? AND type = 'page_view'", res.Rmid); n != 1 {
			t.Fatalf("noscript pixel: %d page views for _rmid %s, want 1", n, res.Rmid)
		}
	})
}

func testSegmentSDK(t *testing.T, db *chdb.DB, base string) {
	requireBrowser(t)
	event := "E2E Browser SDK " + uuid.NewString()[:8]
	var res struct {
		AnonymousID string
		Failed      string
		Requests    []string
	}
	node(t, &res, "segment-browser.mjs", "--base="+base, "--key=wk_demo", "--event="+event)
	if res.Failed != "" {
		t.Fatalf("analytics-next failed to deliver: %s (%v)", res.Failed, res.Requests)
	}
	if n := waitEvents(t, db, 1, "SELECT count() FROM v_events WHERE site = 'demo' AND visitor_id = ? AND name = ?", res.AnonymousID, event); n != 1 {
		t.Fatalf("the track call of analytics-next did not arrive (requests %v)", res.Requests)
	}
}

func testDashboard(t *testing.T, base string, site config.Site) {
	requireBrowser(t)
	art := artifactsDir(t)
	var res struct {
		Audiences []struct {
			Name string
			Size int
		}
		Audience      string
		Preview       []string
		Errors        []string
		PhoneOverflow int
	}
	node(t, &res, "dashboard.mjs", "--base="+base, "--site="+site.ID, "--token="+site.AdminToken, "--out="+art)
	if len(res.Errors) > 0 {
		t.Errorf("page errors: %v", res.Errors)
	}
	listed := map[string]int{}
	for _, a := range res.Audiences {
		listed[a.Name] = a.Size
	}
	for _, name := range builtinAudiences {
		if listed[name] == 0 {
			t.Errorf("the audiences page shows %s with size %d (%v)", name, listed[name], res.Audiences)
		}
	}
	if res.PhoneOverflow > 0 {
		t.Errorf("the audiences page is %dpx wider than a phone", res.PhoneOverflow)
	}
	if len(res.Preview) == 0 {
		t.Fatal("no audience page showed a feed preview")
	}
	var feed struct {
		Items []struct{ ID string }
	}
	if code := getJSON(t, base+"/feeds/demo/"+res.Audience+"/feed.json?token="+site.FeedToken, "", &feed); code != http.StatusOK {
		t.Fatalf("feed.json: %d", code)
	}
	if len(feed.Items) < len(res.Preview) {
		t.Fatalf("feed has %d items, the preview showed %d", len(feed.Items), len(res.Preview))
	}
	for i, id := range res.Preview {
		if feed.Items[i].ID != id {
			t.Fatalf("preview item %d is %s, the feed's is %s", i, id, feed.Items[i].ID)
		}
	}
	if os.Getenv("REMARKET_UPDATE_SCREENSHOTS") == "1" {
		for _, name := range []string{"dashboard-overview.png", "dashboard-audiences.png", "dashboard-audience.png", "dashboard-visitor.png", "dashboard-product.png", "dashboard-audiences-phone.png", "shop-js.png"} {
			copyFile(t, filepath.Join(art, name), filepath.Join(repoRoot, "docs", "screenshots", name))
		}
	}
}

// testErasure erases a member through the admin API and checks every view.
func testErasure(t *testing.T, db *chdb.DB, base string, site config.Site) {
	var vid string
	if err := db.QueryRow(context.Background(), "SELECT visitor_id FROM v_audience_members WHERE site = 'demo' ORDER BY visitor_id LIMIT 1").Scan(&vid); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, base+"/api/sites/demo/visitors/"+vid, nil)
	req.Header.Set("Authorization", "Bearer "+site.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("erasure answered %d", resp.StatusCode)
	}
	for _, view := range []string{"v_events", "v_audience_members", "v_visitor_recommendations", "v_visitor_interests"} {
		if n := count(t, db, "SELECT count() FROM "+view+" WHERE site = 'demo' AND visitor_id = ?", vid); n != 0 {
			t.Errorf("%s still has %d rows of the erased visitor", view, n)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// testOutcomes: the campaign shows a lift where the holdout is large
// enough and says where it is not; offers were redeemed; no holdout member
// is in any export.
func testOutcomes(t *testing.T, db *chdb.DB, base string, site config.Site, output string) {
	for _, want := range []string{"campaign: 8 segment runs", "Outcomes:", "Too few people to conclude anything"} {
		if !strings.Contains(output, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	verdicts := map[string]string{}
	for _, name := range builtinAudiences {
		var lift struct {
			Verdict   string
			Treatment struct{ Members int }
			Holdout   struct{ Members int }
		}
		if code := getJSON(t, base+"/api/sites/demo/audiences/"+name+"/lift", site.AdminToken, &lift); code != http.StatusOK {
			t.Fatalf("lift of %s: %d", name, code)
		}
		// A person's group comes from a keyed hash with the demo config's
		// random holdout_key, so an audience of n members holds nobody out
		// with probability 0.9^n: 0.5% at 50 (professional_buyers' 55
		// once did), 1e-7 at 150. Only large audiences must have both.
		if n := lift.Treatment.Members + lift.Holdout.Members; lift.Treatment.Members == 0 || (n >= 150 && lift.Holdout.Members == 0) {
			t.Errorf("%s: %d treated and %d held-out members", name, lift.Treatment.Members, lift.Holdout.Members)
		}
		verdicts[lift.Verdict] = name
	}
	if verdicts["positive"] == "" || verdicts["too_small"] == "" {
		t.Errorf("verdicts %v: want a positive lift and a too-small sample", verdicts)
	}
	if n := count(t, db, "SELECT count() FROM v_offer_redemptions WHERE site = 'demo' AND order_id != '' AND discount > 0"); n == 0 {
		t.Error("the campaign redeemed no offer")
	}
	if n := count(t, db, "SELECT count() FROM offer_redemptions WHERE order_id = '' OR product_id = ''"); n != 0 {
		t.Errorf("%d redemptions without an order or product", n)
	}
	// Holdout members are never exported.
	checked := 0
	for _, name := range builtinAudiences {
		held := map[string]bool{}
		rows, err := db.Query(context.Background(), "SELECT visitor_id FROM v_audience_members WHERE site = 'demo' AND audience = ? AND grp = 'holdout'", name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			rows.Scan(&v)
			held[v] = true
		}
		rows.Close()
		req, _ := http.NewRequest(http.MethodGet, base+"/api/sites/demo/audiences/"+name+"/members?format=csv", nil)
		req.Header.Set("Authorization", "Bearer "+site.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		exported := strings.Split(strings.TrimSpace(string(body)), "\r\n")
		for _, line := range exported[1:] {
			if v, _, _ := strings.Cut(line, ","); held[v] {
				t.Errorf("%s exports holdout member %s", name, v)
			}
		}
		if len(held) > 0 && len(exported) > 1 {
			checked++
		}
	}
	if checked == 0 {
		t.Error("no audience has both exported and held-out members: nothing was checked")
	}
}

// testEditor: a marketer creates an audience in the dashboard (a field
// error, then the preview), saves and runs it, finds it in the list with
// its lift panel, reads the campaign's lift, and edits a discount rule.
func testEditor(t *testing.T, base string, site config.Site) {
	requireBrowser(t)
	art := artifactsDir(t)
	var res struct {
		FieldError     string
		Preview        int
		CreatedVerdict string
		Listed         []int
		Lift           struct {
			Verdict, Message, Value, Redemptions string
			Chart, Band                          int
		}
		RuleError string
		Effective []string
		Errors    []string
	}
	node(t, &res, "outcomes.mjs", "--base="+base, "--site="+site.ID, "--token="+site.AdminToken, "--out="+art)
	if len(res.Errors) > 0 {
		t.Errorf("page errors: %v", res.Errors)
	}
	if !strings.HasPrefix(res.FieldError, "include[0].until") {
		t.Errorf("the editor's error %q does not name include[0].until", res.FieldError)
	}
	if res.Preview == 0 || len(res.Listed) != 1 || res.Listed[0] != res.Preview {
		t.Errorf("preview %d members, the list shows %v after the run", res.Preview, res.Listed)
	}
	if res.CreatedVerdict == "" || res.Lift.Verdict == "" || res.Lift.Message == "" || res.Lift.Chart == 0 || res.Lift.Band != 1 || !strings.Contains(res.Lift.Value, "pp") {
		t.Errorf("lift panels: new audience %q, campaign %+v", res.CreatedVerdict, res.Lift)
	}
	if !strings.Contains(res.RuleError, "percent") {
		t.Errorf("the rules editor's error %q does not name percent", res.RuleError)
	}
	var rules struct {
		Rules []struct {
			Strategy string
			Percent  float64
		}
	}
	if code := getJSON(t, base+"/api/sites/demo/discounts", site.AdminToken, &rules); code != http.StatusOK || len(rules.Rules) != 1 || rules.Rules[0].Percent != 12 {
		t.Errorf("discounts after the edit: %d %+v (the page showed %v)", code, rules, res.Effective)
	}
	if os.Getenv("REMARKET_UPDATE_SCREENSHOTS") == "1" {
		for _, name := range []string{"dashboard-lift.png", "dashboard-editor.png", "dashboard-discounts.png"} {
			copyFile(t, filepath.Join(art, name), filepath.Join(repoRoot, "docs", "screenshots", name))
		}
	}
}
