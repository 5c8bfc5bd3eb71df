package feeds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/remarket/remarket/feeds"
)

// Google requires availability_date for preorder and backorder items: the
// catalog's date is carried into every format, and such items without it,
// or with one more than a year ahead, are left out and counted (metric and
// feed stats).
func TestPreorderItemsCarryTheirAvailabilityDate(t *testing.T) {
	s := newServer(t, testConfig(t))
	date := time.Date(2026, 12, 15, 8, 0, 0, 0, time.UTC)
	item := func(id, availability string, at time.Time) product {
		return product{ID: id, Title: "Lens " + id, Link: "https://shop.example/" + id, Image: "https://cdn.example/" + id + ".jpg",
			Price: 1199, Currency: "EUR", Availability: availability, AvailabilityDate: at}
	}
	s.fx.products("shop",
		item("pre-dated", "preorder", date),
		item("pre-undated", "preorder", time.Time{}),
		item("back-dated", "backorder", date),
		item("back-undated", "backorder", time.Time{}),
		item("stock-dated", "in_stock", date),                     // a date means nothing in stock: not shown
		item("pre-far", "preorder", runFinished.AddDate(1, 0, 1)), // beyond Google's year
	)
	s.fx.run("shop", "r1", runFinished, "cart", 3)
	s.fx.list("shop", "r1", "cart",
		listed{Product: "pre-dated", Strategy: "upsell", Rank: 1},
		listed{Product: "pre-undated", Strategy: "upsell", Rank: 2},
		listed{Product: "back-dated", Strategy: "upsell", Rank: 3},
		listed{Product: "back-undated", Strategy: "upsell", Rank: 4},
		listed{Product: "stock-dated", Strategy: "upsell", Rank: 5},
		listed{Product: "pre-far", Strategy: "upsell", Rank: 6},
	)
	s.now = runFinished.Add(time.Hour)
	skipped := func(format, reason string) float64 {
		var m dto.Metric
		if err := feeds.SkippedItems.WithLabelValues(format, reason).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	before, beforeFar := skipped("google", feeds.SkipNoAvailabilityDate), skipped("google", feeds.SkipFarAvailabilityDate)

	rec := s.get("/feeds/shop/cart/google.xml?token=" + feedToken)
	if rec.Code != http.StatusOK {
		t.Fatalf("google.xml: %d %s", rec.Code, rec.Body)
	}
	var ids []string
	for _, it := range parseGoogle(t, rec.Body.Bytes()).Items {
		ids = append(ids, it.ID)
	}
	if got := strings.Join(ids, ","); got != "pre-dated,back-dated,stock-dated" {
		t.Fatalf("google items %s, want the undated preorder and backorder and the one beyond a year left out", got)
	}
	body := rec.Body.String()
	if n := strings.Count(body, "<g:availability_date>2026-12-15T08:00+0000</g:availability_date>"); n != 2 {
		t.Fatalf("%d g:availability_date elements, want one per dated preorder/backorder item:\n%s", n, body)
	}
	if got := skipped("google", feeds.SkipNoAvailabilityDate) - before; got != 2 {
		t.Fatalf("remarket_feed_items_skipped_total{reason=no_availability_date} rose by %v, want 2", got)
	}
	if got := skipped("google", feeds.SkipFarAvailabilityDate) - beforeFar; got != 1 {
		t.Fatalf("remarket_feed_items_skipped_total{reason=%s} rose by %v, want 1", feeds.SkipFarAvailabilityDate, got)
	}

	rows := parseMeta(t, s.get("/feeds/shop/cart/meta.csv?token="+feedToken).Body.Bytes())
	if len(rows) != 3 || rows[0]["availability_date"] != "2026-12-15T08:00+00:00" || rows[1]["availability"] != "available for order" ||
		rows[1]["availability_date"] != "2026-12-15T08:00+00:00" || rows[2]["availability_date"] != "" {
		t.Fatalf("meta rows %v", rows)
	}

	var feed struct {
		Items []struct {
			ID               string `json:"id"`
			AvailabilityDate string `json:"availability_date"`
		} `json:"items"`
	}
	if err := json.Unmarshal(s.get("/feeds/shop/cart/feed.json?token="+feedToken).Body.Bytes(), &feed); err != nil {
		t.Fatal(err)
	}
	if len(feed.Items) != 3 || feed.Items[0].AvailabilityDate != "2026-12-15T08:00+00:00" || feed.Items[2].AvailabilityDate != "" {
		t.Fatalf("feed.json items %+v", feed.Items)
	}

	// The feed stats `remarket feed export` prints count them too.
	var out bytes.Buffer
	st, err := s.api.Export(context.Background(), &out, "shop", "cart", feeds.Google)
	if err != nil || st.Items != 3 || st.Skipped[feeds.SkipNoAvailabilityDate] != 2 || st.Skipped[feeds.SkipFarAvailabilityDate] != 1 {
		t.Fatalf("export stats %+v, %v", st, err)
	}
}
