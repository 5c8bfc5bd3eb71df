package segment_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/segment"
)

// nextItemShop: two weeks ago, ten sessions view A then B and four view
// A then C; eleven fillers are each viewed alone in twenty sessions, so
// they are the best sellers. B is an upsell of A (same category,
// dearer), C a cross-sell (another category, cheap), D neither (ten
// times A's price). In the last day, two held-out sessions view A, B
// and A, D: remarket and item-kNN both rank B first for A and never
// reach D, which no training session has; most-popular shows fillers.
func nextItemShop(t *testing.T) []ev {
	t.Helper()
	ps := []catalog.Product{
		product("A", "Alpha", "X", 100), product("B", "Beta", "X", 120),
		product("C", "Gamma", "Y", 40), product("D", "Delta", "Z", 1000),
	}
	var evs []ev
	for i := 1; i <= 11; i++ {
		id := fmt.Sprintf("F%02d", i)
		ps = append(ps, product(id, "Filler "+id, "F", 10))
		for v := range 20 {
			evs = append(evs, ev{vid: fmt.Sprintf("f%s-%d", id, v), ago: 14*day + time.Duration(v)*time.Hour, typ: "product_view", pid: id})
		}
	}
	nextItemCatalog = ps
	for v := range 10 {
		evs = append(evs,
			ev{vid: fmt.Sprintf("ab%d", v), ago: 14*day + 60, typ: "product_view", pid: "A"},
			ev{vid: fmt.Sprintf("ab%d", v), ago: 14 * day, typ: "product_view", pid: "B"})
	}
	for v := range 4 {
		evs = append(evs,
			ev{vid: fmt.Sprintf("ac%d", v), ago: 14*day + 60, typ: "product_view", pid: "A"},
			ev{vid: fmt.Sprintf("ac%d", v), ago: 14 * day, typ: "product_view", pid: "C"})
	}
	// Held out: within the last day. h1 also viewed A then C a week ago,
	// a session of its own that stays in training: a pause of a week
	// splits them.
	evs = append(evs,
		ev{vid: "h1", ago: 7*day + 60, typ: "product_view", pid: "A"},
		ev{vid: "h1", ago: 7 * day, typ: "product_view", pid: "C"},
		ev{vid: "h1", ago: 3*time.Hour + 120, typ: "product_view", pid: "A"},
		ev{vid: "h1", ago: 3*time.Hour + 60, typ: "product_view", pid: "A"}, // a repeat: no next item
		ev{vid: "h1", ago: 3 * time.Hour, typ: "product_view", pid: "B"},
		ev{vid: "h2", ago: 2*time.Hour + 60, typ: "product_view", pid: "A"},
		ev{vid: "h2", ago: 2 * time.Hour, typ: "product_view", pid: "D"},
	)
	return evs
}

var nextItemCatalog []catalog.Product

func TestNextItemHoldsOutTheLastSessions(t *testing.T) {
	db := chtest.MustOpen(t)
	evs := nextItemShop(t)
	putProducts(t, db, nextItemCatalog...)
	insertEvents(t, db, evs...)
	e := newEngine(t, db, testConfig(t))
	res, err := e.EvaluateNextItem(context.Background(), site, segment.NextItemOptions{K: 10, Window: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sessions != 2 || res.Pairs != 2 || res.AllowedPairs != 1 {
		t.Fatalf("sessions %d, next items %d (allowed %d); want 2, 2 (1): A→B in h1 (A→A is no next item), A→D in h2",
			res.Sessions, res.Pairs, res.AllowedPairs)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	for _, m := range []struct {
		name string
		got  segment.NextItemMethod
	}{{"remarket", res.Remarket}, {"item-kNN", res.ItemKNN}} {
		// B is A's best related product: a hit at rank 1 of two next
		// items; the one allowed next item is B.
		if !near(m.got.All.HitRate, 0.5) || !near(m.got.All.MRR, 0.5) || !near(m.got.Allowed.HitRate, 1) || !near(m.got.Allowed.MRR, 1) {
			t.Errorf("%s = %+v, want HitRate 0.5, MRR 0.5, allowed 1, 1", m.name, m.got)
		}
	}
	if res.MostPopular.All.HitRate != 0 {
		t.Errorf("most-popular = %+v, want no hit (eleven fillers come first)", res.MostPopular)
	}
	// Every in-stock product with views has related products (fillers
	// through fallbacks); D was only viewed in a held-out session.
	if res.Viewed != 14 || res.Covered != 14 {
		t.Errorf("covered %d of %d viewed products, want 14 of 14", res.Covered, res.Viewed)
	}
	// Nothing of the evaluation is left behind.
	var n uint64
	if err := db.QueryRow(context.Background(), "SELECT count() FROM seg_eval_pairs").Scan(&n); err != nil || n != 0 {
		t.Errorf("seg_eval_pairs holds %d rows after eval (%v)", n, err)
	}
}

// Replayed sessions are scored against the current run; a session's
// views are ordered by time, whatever the file's order.
func TestNextItemReplaysGivenSessions(t *testing.T) {
	db := chtest.MustOpen(t)
	evs := nextItemShop(t)
	putProducts(t, db, nextItemCatalog...)
	insertEvents(t, db, evs...)
	e := newEngine(t, db, testConfig(t))
	run(t, e)
	sessions, err := segment.ReadSessions(strings.NewReader("SessionId\tItemId\tTime\n" +
		"s1\tC\t1396000100.5\ns1\tA\t1396000000.25\ns2\tA\t1396000000\ns2\tB\t1396000060\ns2\tB\t1396000061\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.EvaluateNextItem(context.Background(), site, segment.NextItemOptions{K: 10, Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	// A→C (C second for A: 1/2) and A→B (first: 1): both hit.
	if res.Sessions != 2 || res.Pairs != 2 || res.AllowedPairs != 2 {
		t.Fatalf("sessions %d, next items %d (allowed %d); want 2, 2 (2)", res.Sessions, res.Pairs, res.AllowedPairs)
	}
	if got := res.Remarket.All; math.Abs(got.HitRate-1) > 1e-9 || math.Abs(got.MRR-0.75) > 1e-9 {
		t.Errorf("remarket = %+v, want HitRate 1, MRR 0.75", got)
	}
}

func TestReadSessions(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     string // sessions joined by "|", views by ","
		err      string
	}{
		{"header and order by time", "SessionId\tItemId\tTime\n1\tb\t2\n1\ta\t1.5\n2\tc\t9\n", "a,b|c", ""},
		{"same time keeps file order", "1\tx\t5\n1\ty\t5\n", "x,y", ""},
		{"sessions in first-seen order", "9\ta\t1\n3\tb\t1\n9\tc\t2\n", "a,c|b", ""},
		{"blank lines and CRLF", "1\ta\t1\r\n\n1\tb\t2\r\n", "a,b", ""},
		{"bad time after the header", "1\ta\t1\n1\tb\tlater\n", "", "line 2"},
		{"not finite", "1\ta\t1\n1\tb\tNaN\n", "", "line 2"},
		{"two fields", "1\ta\n", "", "3 tab-separated"},
		{"empty product", "1\t\t3\n", "", "empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := segment.ReadSessions(strings.NewReader(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, s := range got {
				parts = append(parts, strings.Join(s, ","))
			}
			if s := strings.Join(parts, "|"); s != c.want {
				t.Errorf("sessions = %q, want %q", s, c.want)
			}
		})
	}
}

func FuzzReadSessions(f *testing.F) {
	f.Add("SessionId\tItemId\tTime\n1\tb\t2\n1\ta\t1.5\n")
	f.Add("1\ta\t1e308\n1\tb\t-0\n")
	f.Fuzz(func(t *testing.T, in string) {
		sessions, err := segment.ReadSessions(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range sessions {
			if len(s) == 0 {
				t.Fatal("an empty session")
			}
			for _, p := range s {
				if p == "" {
					t.Fatal("an empty product id")
				}
			}
		}
	})
}
