package segment_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chtest"
)

// The fixture's right answer is known: five visitors view A then B (B is
// A's only upsell) and five view A, B, then D (D relates to nothing).
// Hiding each one's last product leaves the first group with history A,
// whose list starts with B (hit at rank 1), and the second with A, B,
// whose list never holds D (miss): HitRate = NDCG = 0.5, coverage 1/14.
// Eleven filler products, each viewed alone by 20 visitors, outrank A, B
// and D in popularity, so the baseline never hits and shows 10 of 14.
func TestEvalLeaveLastOut(t *testing.T) {
	db := chtest.MustOpen(t)
	ps := []catalog.Product{
		product("A", "Alpha", "X", 100),
		product("B", "Beta", "X", 120),
		product("D", "Delta", "Y", 500),
	}
	var evs []ev
	for i := 1; i <= 11; i++ {
		id := fmt.Sprintf("F%02d", i)
		ps = append(ps, product(id, "Filler "+id, "Z", 1000))
		for v := 0; v < 20; v++ {
			evs = append(evs, ev{vid: fmt.Sprintf("f%s-%d", id, v), ago: 5 * time.Hour, typ: "product_view", pid: id})
		}
	}
	putProducts(t, db, ps...)
	for v := 0; v < 5; v++ {
		evs = append(evs,
			ev{vid: fmt.Sprintf("h%d", v), ago: 3 * time.Hour, typ: "product_view", pid: "A"},
			ev{vid: fmt.Sprintf("h%d", v), ago: 2 * time.Hour, typ: "product_view", pid: "B"},
			ev{vid: fmt.Sprintf("g%d", v), ago: 3 * time.Hour, typ: "product_view", pid: "A"},
			ev{vid: fmt.Sprintf("g%d", v), ago: 2 * time.Hour, typ: "product_view", pid: "B"},
			ev{vid: fmt.Sprintf("g%d", v), ago: 1 * time.Hour, typ: "product_view", pid: "D"},
		)
	}
	insertEvents(t, db, evs...)
	e := newEngine(t, db, testConfig(t))
	res, err := e.Evaluate(context.Background(), site, 10)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if res.Visitors != 10 || res.Products != 14 {
		t.Fatalf("visitors %d, products %d; want 10, 14", res.Visitors, res.Products)
	}
	if !near(res.Model.HitRate, 0.5) || !near(res.Model.NDCG, 0.5) || !near(res.Model.Coverage, 1.0/14) {
		t.Errorf("model = %+v, want HitRate 0.5, NDCG 0.5, coverage 1/14", res.Model)
	}
	if !near(res.Baseline.HitRate, 0) || !near(res.Baseline.NDCG, 0) || !near(res.Baseline.Coverage, 10.0/14) {
		t.Errorf("baseline = %+v, want 0, 0, 10/14", res.Baseline)
	}
	// Nothing of the evaluation is left behind or published.
	var n uint64
	db.QueryRow(context.Background(), "SELECT count() FROM seg_lines").Scan(&n)
	if n != 0 {
		t.Errorf("seg_lines holds %d rows after eval", n)
	}
}

// The baseline must count each visitor once: four visitors view A, then
// the shop's best seller P, which is held out. Popularity puts P first in
// the baseline list, so every one is a hit at rank 1: HitRate = NDCG = 1.
func TestEvalBaselineCountsEachVisitorOnce(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db, product("A", "Alpha", "X", 100), product("P", "Popular", "X", 110))
	var evs []ev
	for v := 0; v < 30; v++ {
		evs = append(evs, ev{vid: fmt.Sprintf("fan%d", v), ago: 5 * time.Hour, typ: "product_view", pid: "P"})
	}
	for v := 0; v < 4; v++ {
		evs = append(evs,
			ev{vid: fmt.Sprintf("h%d", v), ago: 3 * time.Hour, typ: "product_view", pid: "A"},
			ev{vid: fmt.Sprintf("h%d", v), ago: 2 * time.Hour, typ: "product_view", pid: "P"},
		)
	}
	insertEvents(t, db, evs...)
	res, err := newEngine(t, db, testConfig(t)).Evaluate(context.Background(), site, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Visitors != 4 {
		t.Fatalf("visitors %d, want 4", res.Visitors)
	}
	if res.Baseline.HitRate != 1 || math.Abs(res.Baseline.NDCG-1) > 1e-9 {
		t.Errorf("baseline = %+v, want HitRate 1 and NDCG 1", res.Baseline)
	}
	if res.Model.HitRate > 1 || res.Model.NDCG > 1 {
		t.Errorf("model = %+v: a rate above 1", res.Model)
	}
}

// The baseline follows the model's rules: never what the visitor's user
// bought on another device. The user bought the best seller P on their
// laptop; their phone views A, then P, which is held out. Neither list
// may offer P to the phone: both miss (before, the baseline hit at rank
// 1 while the model could not).
func TestEvalBaselineLeavesOutWhatThePersonBought(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db, product("A", "Alpha", "X", 100), product("P", "Popular", "X", 110))
	var evs []ev
	for v := 0; v < 30; v++ {
		evs = append(evs, ev{vid: fmt.Sprintf("fan%d", v), ago: 5 * time.Hour, typ: "product_view", pid: "P"})
	}
	evs = append(evs,
		ev{vid: "laptop", uid: "u1", ago: 4 * time.Hour, typ: "purchase", pid: "P"},
		ev{vid: "phone", uid: "u1", ago: 3 * time.Hour, typ: "product_view", pid: "A"},
		ev{vid: "phone", uid: "u1", ago: 2 * time.Hour, typ: "product_view", pid: "P"},
	)
	insertEvents(t, db, evs...)
	res, err := newEngine(t, db, testConfig(t)).Evaluate(context.Background(), site, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.Visitors != 1 {
		t.Fatalf("visitors %d, want 1 (the phone)", res.Visitors)
	}
	if res.Model.HitRate != 0 || res.Baseline.HitRate != 0 {
		t.Errorf("model %+v, baseline %+v: want both to miss P, which the user bought", res.Model, res.Baseline)
	}
}
