package feeds_test

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/feeds"
)

// Opted-out visitors and the holdout group are never exported.
func TestMembersExportHonoursOptOutAndHoldout(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.fx.run("shop", "r1", runFinished, "cart", 3)
	s.fx.members("shop", "r1", "cart",
		member{Visitor: "v1", User: "u1", EmailSHA: strings.Repeat("a", 64)},
		member{Visitor: "v2"},
		member{Visitor: "v3", User: "u3", OptedOut: 1}, // the view must not, but if it did
		member{Visitor: "v4", User: "u4"},              // opts out after the run, below
		member{Visitor: "v5", User: "u5", EmailSHA: strings.Repeat("b", 64), Group: "holdout"},
	)
	s.fx.members("shop", "r1", "other-audience", member{Visitor: "v9"})
	// v4 opted out after the run: an event with opted_out = 1.
	if err := s.db.InsertRow(t.Context(), "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, opted_out)",
		"shop", uuid.New(), time.Now().UTC(), time.Now().UTC(), "track", "v4", uint8(1)); err != nil {
		t.Fatal(err)
	}
	auth := []string{"Authorization", "Bearer " + adminToken}

	rec := s.get("/api/sites/shop/audiences/cart/members", auth...)
	if rec.Code != http.StatusOK {
		t.Fatalf("csv: %d %s", rec.Code, rec.Body)
	}
	recs, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"visitor_id", "user_id", "email_sha256"}, {"v1", "u1", strings.Repeat("a", 64)}, {"v2", "", ""}}
	if len(recs) != len(want) || strings.Join(recs[1], ",") != strings.Join(want[1], ",") || recs[2][0] != "v2" {
		t.Fatalf("csv export = %q, want %q", recs, want)
	}

	rec = s.get("/api/sites/shop/audiences/cart/members?format=jsonl", auth...)
	var got []string
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		var m struct {
			VisitorID string `json:"visitor_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("jsonl line %q: %v", sc.Text(), err)
		}
		got = append(got, m.VisitorID)
	}
	if strings.Join(got, ",") != "v1,v2" {
		t.Fatalf("jsonl export = %v", got)
	}

	for _, c := range []struct {
		path string
		hdr  []string
		want int
	}{
		{"/api/sites/shop/audiences/cart/members", nil, 401},
		{"/api/sites/shop/audiences/cart/members", []string{"Authorization", "Bearer " + feedToken}, 401},
		{"/api/sites/shop/audiences/ghost/members", auth, 404},
		{"/api/sites/shop/audiences/cart/members?format=xml", auth, 400},
	} {
		if rec := s.get(c.path, c.hdr...); rec.Code != c.want {
			t.Errorf("%s: %d, want %d", c.path, rec.Code, c.want)
		}
	}
}

func TestDiscountRulesAPI(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.seedHard()
	auth := []string{"Authorization", "Bearer " + adminToken}

	rec := s.get("/api/sites/shop/discounts", auth...)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"max_discount_percent":25`) {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	put := func(body string) int {
		return s.do(http.MethodPut, "/api/sites/shop/discounts", strings.NewReader(body), auth...).Code
	}
	for _, bad := range []string{
		`{"rules":[{"strategy":"upsell","percent":50,"duration":"48h"}]}`, // over the site max
		`{"rules":[{"strategy":"upsell","percent":10,"duration":"soon"}]}`,
		`{"rules":[{"strategy":"spam","percent":10,"duration":"1h"}]}`,
		`{"rulez":[]}`,
	} {
		if code := put(bad); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d, want 400", bad, code)
		}
	}
	// The admin upsell rule (20%) replaces the YAML upsell rule (10%).
	if code := put(`{"rules":[{"strategy":"upsell","percent":20,"duration":"24h"}]}`); code != 200 {
		t.Fatalf("PUT: %d", code)
	}
	feed := parseGoogle(t, s.get("/feeds/shop/cart/google.xml?token="+feedToken).Body.Bytes())
	if amp := feed.Items[1]; amp.ID != "amp" || amp.SalePrice != "987.60 USD" || amp.Label3 != "20% off until Fri 27 Nov" {
		t.Fatalf("after PUT amp = %q %q", amp.SalePrice, amp.Label3)
	}
	if rec := s.do(http.MethodPut, "/api/sites/shop/discounts", strings.NewReader(`{"rules":[]}`), "Authorization", "Bearer other-admin-0123456789"); rec.Code != 401 {
		t.Fatalf("other site's admin token: %d", rec.Code)
	}
}

// An opt-out recorded after the run on another device of the same user
// (GPC on a laptop, or a server-side consent=false with only the user id)
// keeps the member out of the export.
func TestMembersExportHonoursOptOutOfThePerson(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.fx.run("shop", "r1", runFinished, "cart", 4)
	s.fx.members("shop", "r1", "cart",
		member{Visitor: "ann-phone", User: "ann"},
		member{Visitor: "bob-phone", User: "bob"},
		member{Visitor: "cid-phone"}, // signed in as cid only in the events
		member{Visitor: "fay-phone", User: "fay"},
	)
	now := time.Now().UTC()
	for _, e := range []struct {
		vid, uid string
		optedOut uint8
	}{
		{"ann-laptop", "ann", 1}, // GPC on another device, signed in
		{"bob-phone", "bob", 0},
		{"", "bob", 1},           // the backend reports bob's refusal
		{"cid-phone", "cid", 0},  // cid's phone is cid's
		{"cid-laptop", "", 1},    // cid's laptop opts out
		{"cid-laptop", "cid", 0}, // and is cid's too
		{"fay-laptop", "fay", 0},
	} {
		if err := s.db.InsertRow(t.Context(), "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id, opted_out)",
			"shop", uuid.New(), now, now, "page_view", e.vid, e.uid, e.optedOut); err != nil {
			t.Fatal(err)
		}
	}
	rec := s.get("/api/sites/shop/audiences/cart/members", "Authorization", "Bearer "+adminToken)
	recs, err := csv.NewReader(rec.Body).ReadAll()
	if rec.Code != http.StatusOK || err != nil {
		t.Fatalf("export: %d %v", rec.Code, err)
	}
	var got []string
	for _, r := range recs[1:] {
		got = append(got, r[0])
	}
	if strings.Join(got, ",") != "fay-phone" {
		t.Fatalf("exported %v, want only fay-phone", got)
	}
}

// A rule change through an instance whose clock is behind another's is
// the newest all the same: the rules' version came from the instance's
// clock, so a PUT a minute behind the previous one answered 200 and was
// never in effect (the older set kept its higher version).
func TestARuleChangeFromASlowClockIsTheNewest(t *testing.T) {
	cfg := testConfig(t)
	ahead := newServer(t, cfg)
	ahead.seedHard()
	behind := newServerOn(t, cfg, ahead)
	ahead.now = ahead.now.Add(time.Minute)
	auth := []string{"Authorization", "Bearer " + adminToken}
	for _, p := range []struct {
		s    *server
		body string
	}{
		{ahead, `{"rules":[{"strategy":"upsell","percent":20,"duration":"24h"}]}`},
		{behind, `{"rules":[{"strategy":"upsell","percent":15,"duration":"24h"}]}`},
	} {
		if rec := p.s.do(http.MethodPut, "/api/sites/shop/discounts", strings.NewReader(p.body), auth...); rec.Code != 200 {
			t.Fatalf("PUT %s: %d %s", p.body, rec.Code, rec.Body)
		}
	}
	for name, s := range map[string]*server{"the instance behind": behind, "another instance": newServerOn(t, cfg, ahead)} {
		rec := s.get("/api/sites/shop/discounts", auth...)
		var got feeds.DiscountsJSON
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Rules) != 1 || got.Rules[0].Percent != 15 {
			t.Errorf("%s: rules %+v, want the last PUT's 15%%", name, got.Rules)
		}
	}
}

// Offer windows are whole minutes: a rule lasting under a minute opened a
// window that ended as it started, so it was stored (200) and never
// showed a sale price. It is refused, naming the rule and the field, and
// the stored rules stay as they were.
func TestARuleShorterThanAMinuteIsRefused(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.seedHard()
	auth := []string{"Authorization", "Bearer " + adminToken}
	if rec := s.do(http.MethodPut, "/api/sites/shop/discounts", strings.NewReader(`{"rules":[{"strategy":"upsell","percent":20,"duration":"24h"}]}`), auth...); rec.Code != 200 {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	rec := s.do(http.MethodPut, "/api/sites/shop/discounts",
		strings.NewReader(`{"rules":[{"strategy":"reminder","percent":10,"duration":"48h"},{"strategy":"upsell","percent":20,"duration":"30s"}]}`), auth...)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "rules[1]: duration 30s") {
		t.Errorf("PUT with a 30s rule: %d %s, want 400 naming rules[1]'s duration", rec.Code, rec.Body)
	}
	var got feeds.DiscountsJSON
	if err := json.Unmarshal(s.get("/api/sites/shop/discounts", auth...).Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rules) != 1 || got.Rules[0].Duration != "24h0m0s" {
		t.Errorf("stored rules after the refusal: %+v", got.Rules)
	}
}

// Of two rules with one selector the later never applies (ties go to the
// earlier): a set holding both was stored and the later rule's 25% was
// silently never offered. It is refused, naming the later rule.
func TestTwoRulesWithOneSelectorAreRefused(t *testing.T) {
	s := newServer(t, testConfig(t))
	auth := []string{"Authorization", "Bearer " + adminToken}
	rec := s.do(http.MethodPut, "/api/sites/shop/discounts",
		strings.NewReader(`{"rules":[{"strategy":"upsell","percent":10,"duration":"48h"},{"audience":"cart","percent":5,"duration":"48h"},{"strategy":"upsell","percent":25,"duration":"24h"}]}`), auth...)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "rules[2]: same audience, motivation and strategy as rules[0]") {
		t.Errorf("PUT: %d %s, want 400 naming rules[2] and rules[0]", rec.Code, rec.Body)
	}
}

// A key given twice kept its last value without a word: a second "rules"
// replaced the whole set (here with none), a second "percent" the first.
// Both are refused, naming the key, and the stored rules stay.
func TestARuleKeyGivenTwiceIsRefused(t *testing.T) {
	s := newServer(t, testConfig(t))
	auth := []string{"Authorization", "Bearer " + adminToken}
	if rec := s.do(http.MethodPut, "/api/sites/shop/discounts", strings.NewReader(`{"rules":[{"strategy":"upsell","percent":20,"duration":"24h"}]}`), auth...); rec.Code != 200 {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	for body, field := range map[string]string{
		`{"rules":[{"strategy":"reminder","percent":10,"duration":"48h"}],"rules":[]}`:                                    "rules",
		`{"rules":[{"strategy":"reminder","percent":10,"Percent":20,"duration":"48h"}]}`:                                  "rules[0].Percent",
		`{"rules":[{"percent":5,"duration":"1h"},{"strategy":"reminder","duration":"48h","percent":10,"duration":"1h"}]}`: "rules[1].duration",
	} {
		rec := s.do(http.MethodPut, "/api/sites/shop/discounts", strings.NewReader(body), auth...)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), field+": given twice") {
			t.Errorf("PUT %s: %d %s, want 400 naming %s", body, rec.Code, rec.Body, field)
		}
	}
	var got feeds.DiscountsJSON
	if err := json.Unmarshal(s.get("/api/sites/shop/discounts", auth...).Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rules) != 1 || got.Rules[0].Percent != 20 {
		t.Errorf("stored rules after the refusals: %+v", got.Rules)
	}
}
