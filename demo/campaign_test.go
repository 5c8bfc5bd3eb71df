package demo

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// TestRespondStatesTheEffect: held-out members buy at OrganicRate,
// treated ones also through the ads at AdRate, and only ad orders carry
// the offer token.
func TestRespondStatesTheEffect(t *testing.T) {
	c, err := LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	pr := c.ByID["canon-eos-250d"]
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	const n = 20000
	var joiners []Joiner
	for i := range 2 * n {
		g := "treatment"
		if i%2 == 1 {
			g = "holdout"
		}
		joiners = append(joiners, Joiner{Audience: "a", VisitorID: fmt.Sprintf("v%d", i), Group: g, Product: pr,
			Link: pr.Link + "?rm_offer=tok", Token: "tok", SalePrice: 500})
	}
	visitors, orders := Respond(1, 0, at, at.Add(30*24*time.Hour), joiners)
	bought := map[string]int{}
	for _, v := range visitors {
		var i int
		fmt.Sscanf(v.ID, "v%d", &i)
		bought[[]string{"treatment", "holdout"}[i%2]]++
		last := v.Hits[len(v.Hits)-1]
		if last.Event != "Order Completed" || !last.At.After(at) {
			t.Fatalf("%s's last hit %+v", v.ID, last)
		}
		if _, carries := last.Props["rm_offer"]; carries != (i%2 == 0 && last.Props["revenue"] == 500.0) {
			t.Errorf("%s: order %v carries the token: %v", v.ID, last.Props, carries)
		}
	}
	treated, held := float64(bought["treatment"])/n, float64(bought["holdout"])/n
	wantTreated := 1 - (1-OrganicRate)*(1-AdRate)
	if math.Abs(held-OrganicRate) > 0.01 || math.Abs(treated-wantTreated) > 0.015 {
		t.Errorf("bought: treated %.3f (want %.3f), held out %.3f (want %.3f)", treated, wantTreated, held, OrganicRate)
	}
	for _, o := range orders {
		var i int
		fmt.Sscanf(o.VisitorID, "v%d", &i)
		if i%2 == 1 || o.Token != "tok" {
			t.Fatalf("order %+v: only treated members' ad orders carry offers", o)
		}
	}
	again, _ := Respond(1, 0, at, at.Add(30*24*time.Hour), joiners)
	if len(again) != len(visitors) || again[0].Hits[0].At != visitors[0].Hits[0].At {
		t.Error("the same seed and run gave other responses")
	}
}
