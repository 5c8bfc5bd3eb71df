package dashboard_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The visitor page lists a visitor's strongest interests in one order on
// every server and every load: by score, equal scores by kind and key.
// Every level of a one-product category path scores the same, so ties
// are the rule; sorted by score alone they came in the grouping's hash
// order, which differs between servers (and the 30 shown could differ
// among more tied ones).
func TestVisitorPageOrdersEqualInterests(t *testing.T) {
	srv, db := newServerDB(t)
	ctx := context.Background()
	if err := db.Exec(ctx, "INSERT INTO seg_current (site, run_id, switched) SELECT 'demo', 'r1', toUInt64(1)"); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, "INSERT INTO seg_profiles (site, run_id, vh, visitor_id) SELECT 'demo', 'r1', cityHash64('v1'), 'v1'"); err != nil {
		t.Fatal(err)
	}
	// Four products viewed once in one second: every row scores 1.
	for _, p := range [][2]string{{"zoom", "Photo > Lenses > Zoom > Tele"}, {"prime", "Photo > Lenses > Prime > Wide"},
		{"tripod", "Photo > Support > Tripods > Carbon"}, {"bag", "Bags > Shoulder > Leather > Brown"}} {
		if err := db.Exec(ctx, "INSERT INTO seg_products (site, run_id, ph, product_id, category) SELECT 'demo', 'r1', cityHash64(?), ?, ?", p[0], p[0], p[1]); err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(ctx, `INSERT INTO seg_interests (site, run_id, vh, ph, category, score, events, stage)
			SELECT 'demo', 'r1', cityHash64('v1'), cityHash64(?), ?, 1., toUInt64(1), 'browsed'`, p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	resp, _ := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	cookie := map[string]string{"Cookie": strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]}
	resp, body := do(t, srv, "GET", "/ui/api/visitors/v1", "", cookie)
	if resp.StatusCode != 200 {
		t.Fatalf("visitor: %d %s", resp.StatusCode, body)
	}
	var got struct {
		Interests []struct{ Kind, Key string } `json:"interests"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, i := range got.Interests {
		have = append(have, i.Kind+":"+i.Key)
	}
	want := []string{"category:Photo", "category:Photo > Lenses",
		"category:Bags", "category:Bags > Shoulder", "category:Bags > Shoulder > Leather", "category:Bags > Shoulder > Leather > Brown",
		"category:Photo > Lenses > Prime", "category:Photo > Lenses > Prime > Wide", "category:Photo > Lenses > Zoom", "category:Photo > Lenses > Zoom > Tele",
		"category:Photo > Support", "category:Photo > Support > Tripods", "category:Photo > Support > Tripods > Carbon",
		"product:bag", "product:prime", "product:tripod", "product:zoom"}
	if !slices.Equal(have, want) {
		t.Errorf("interests in the order\n  %s\nwant\n  %s", strings.Join(have, " | "), strings.Join(want, " | "))
	}
}

// The overview's totals by event type come most frequent first, equal
// counts by type, on every server: equal counts came in the grouping's
// hash order.
func TestOverviewOrdersEqualTypeCounts(t *testing.T) {
	srv, db := newServerDB(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	types := []string{"search", "add_to_cart", "page_view", "checkout", "product_view", "purchase", "identify", "remove_from_cart"}
	for _, typ := range types {
		for range 2 {
			if err := db.InsertRow(ctx, "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id)", "demo", uuid.New(), at, at, typ, "v1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	resp, _ := do(t, srv, "POST", "/ui/api/login", `{"site":"demo","token":"`+admin+`"}`, map[string]string{"Content-Type": "application/json"})
	cookie := map[string]string{"Cookie": strings.Split(resp.Header.Get("Set-Cookie"), ";")[0]}
	resp, body := do(t, srv, "GET", "/ui/api/overview", "", cookie)
	if resp.StatusCode != 200 {
		t.Fatalf("overview: %d %s", resp.StatusCode, body)
	}
	var got struct {
		ByType []struct{ Type string } `json:"by_type"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, r := range got.ByType {
		have = append(have, r.Type)
	}
	want := slices.Clone(types)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Errorf("types in the order %v, want %v", have, want)
	}
}
