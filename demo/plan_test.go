package demo_test

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/demo"
	"github.com/remarket/remarket/internal/catalog"
)

func TestCatalogIsValidAndLinked(t *testing.T) {
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	dec, _, err := catalog.NewDecoder(bytes.NewReader(demo.CatalogCSV(now)), catalog.CSV)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]catalog.Product{}
	var newest time.Time
	for {
		rec, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Err != nil || len(rec.Warnings) > 0 {
			t.Fatalf("line %d: %v %v", rec.Line, rec.Err, rec.Warnings)
		}
		p, errs := rec.Validate()
		if len(errs) > 0 {
			t.Fatalf("line %d: %v", rec.Line, errs)
		}
		ids[p.ID] = p
		if p.LaunchDate.After(newest) {
			newest = p.LaunchDate
		}
	}
	if len(ids) < 250 {
		t.Fatalf("%d products, want a few hundred", len(ids))
	}
	counts := map[string]int{}
	for _, p := range ids {
		for _, l := range [][]string{p.Complements, p.Upgrades} {
			for _, id := range l {
				if _, ok := ids[id]; !ok {
					t.Errorf("%s refers to unknown product %s", p.ID, id)
				}
			}
		}
		for _, tag := range p.Tags {
			counts[tag]++
		}
		counts[p.Availability]++
		if now.Sub(p.LaunchDate) < 30*24*time.Hour {
			counts["launched within 30 days"]++
		}
		if strings.HasPrefix(p.Category, "Beauty > Hair Care > Professional") {
			counts["professional"]++
		}
		// Feeds leave out preorder and backorder items without a date.
		if p.Availability == catalog.Preorder || p.Availability == catalog.Backorder {
			if !p.AvailabilityDate.After(now) || p.AvailabilityDate.After(now.AddDate(0, 3, 0)) {
				t.Errorf("%s is %s with availability_date %v: want one within three months of the demo day", p.ID, p.Availability, p.AvailabilityDate)
			}
			counts["dated "+p.Availability]++
		}
	}
	if counts["dated preorder"] == 0 {
		t.Error("no preorder item with an availability_date: the demo feeds show none")
	}
	for _, want := range []string{"overstock", "new", "out_of_stock", "in_stock", "launched within 30 days", "professional"} {
		if counts[want] < 3 {
			t.Errorf("only %d products %q", counts[want], want)
		}
	}
	if now.Sub(newest) > 30*24*time.Hour || newest.After(now) {
		t.Errorf("launch dates not shifted to the demo day: newest %v", newest)
	}
	// the seed's example: an upgrade path from the Canon EOS 250D
	if up := ids["canon-eos-250d"].Upgrades; !reflect.DeepEqual(up[len(up)-1], "canon-eos-r6-ii") {
		t.Errorf("250D upgrades %v", up)
	}
}

func TestPlanIsDeterministicAndBelievable(t *testing.T) {
	c, err := demo.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 24, 15, 30, 0, 0, time.UTC)
	opts := demo.PlanOptions{Seed: 42, Now: now, Days: 60, Visitors: 600}
	a, b := demo.Plan(c, opts), demo.Plan(c, opts)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different plans")
	}
	other := demo.Plan(c, demo.PlanOptions{Seed: 43, Now: now, Days: 60, Visitors: 600})
	if reflect.DeepEqual(a[0].ID, other[0].ID) {
		t.Fatal("the seed does not change the plan")
	}
	personas := map[string]int{}
	events := map[string]int{}
	var bots, gpc, pros, pixel, bulk int
	oldest := now
	for _, v := range a {
		personas[v.Persona]++
		if v.Bot {
			bots++
		}
		if v.GPC {
			gpc++
		}
		if v.Pixel {
			pixel++
		}
		for _, h := range v.Hits {
			limit := 60 * 24 * time.Hour
			if v.Persona == "lapsed_customer" {
				limit = 150 * 24 * time.Hour
			}
			if h.At.After(now) || now.Sub(h.At) > limit {
				t.Fatalf("%s hit at %v outside the allowed days before %v", v.Persona, h.At, now)
			}
			if v.Persona == "lapsed_customer" && now.Sub(h.At) < 91*24*time.Hour {
				t.Fatalf("lapsed customer active %v, within the lapsed audience's 90 days", h.At)
			}
			if h.At.Before(oldest) {
				oldest = h.At
			}
			events[h.Call+" "+h.Event]++
			if h.Traits["customer_type"] == "professional" {
				pros++
			}
			if prods, ok := h.Props["products"].([]any); ok && h.Event == "Order Completed" {
				for _, p := range prods {
					if p.(map[string]any)["quantity"].(int) >= 6 {
						bulk++
					}
				}
			}
		}
	}
	if now.Sub(oldest) < 50*24*time.Hour {
		t.Errorf("oldest hit %v: traffic does not span the period", oldest)
	}
	for _, p := range []string{"browser", "comparer", "cart_abandoner", "buyer", "lapsed_customer", "enthusiast", "hairdresser", "bot"} {
		if personas[p] == 0 {
			t.Errorf("no %s in %v", p, personas)
		}
	}
	for _, e := range []string{"page ", "track Product Viewed", "track Product Added", "track Checkout Started", "track Order Completed", "identify ", "track Products Searched", "track Product Removed"} {
		if events[e] == 0 {
			t.Errorf("no %q hits: %v", e, events)
		}
	}
	if bots == 0 || gpc == 0 || pros == 0 || pixel == 0 || bulk == 0 {
		t.Errorf("bots %d, gpc %d, professional identifies %d, pixel visitors %d, bulk lines %d", bots, gpc, pros, pixel, bulk)
	}
}
