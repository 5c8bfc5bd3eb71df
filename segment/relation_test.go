package segment_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/segment"
)

// views are one visitor's product views, a minute apart, the last one
// an hour ago: a session in that order.
func views(vid string, pids ...string) []ev {
	var out []ev
	for i, p := range pids {
		out = append(out, ev{vid: vid, ago: time.Hour + time.Duration(len(pids)-i)*time.Minute, typ: "product_view", pid: p})
	}
	return out
}

// The model's ranking, case by case. Each case has a "better" and a
// "worse" product for anchor A whose evidence differs in one respect
// only, and names them so that, were that respect ignored, the tie
// would go to the worse one (ties go by product id).
func TestRelatedRanking(t *testing.T) {
	type fixture struct {
		evs      []ev
		products []catalog.Product
	}
	shop := func(extra ...string) []catalog.Product {
		var ps []catalog.Product
		for _, id := range append([]string{"A", "b1", "b2"}, extra...) {
			ps = append(ps, product(id, "T "+id, "C", 100))
		}
		return ps
	}
	fillers := func(n int) (evs []ev, ids []string) {
		for i := range n {
			id := fmt.Sprintf("f%02d", i)
			ids = append(ids, id)
			evs = append(evs, views("fv"+id, id)...)
		}
		return evs, ids
	}
	cases := []struct {
		name          string
		build         func() fixture
		better, worse string
	}{
		{
			// Closeness in the session: b2 is viewed right after A, b1
			// three views later, each in three sessions.
			name: "viewed next to the anchor beats viewed further on",
			build: func() fixture {
				evs, extra := fillers(10)
				for i := range 3 {
					x, y := fmt.Sprintf("x%d", i), fmt.Sprintf("y%d", i)
					extra = append(extra, x, y)
					evs = append(evs, views(fmt.Sprintf("near%d", i), "A", "b2")...)
					evs = append(evs, views(fmt.Sprintf("far%d", i), "A", x, y, "b1")...)
				}
				return fixture{evs, shop(extra...)}
			},
			better: "b2", worse: "b1",
		},
		{
			// Popularity damping: both are viewed with A in three
			// sessions, b1 also by twenty visitors on its own.
			name: "a product everybody views ranks below a specific one",
			build: func() fixture {
				evs, ids := fillers(40)
				for i := range 3 {
					evs = append(evs, views(fmt.Sprintf("v1-%d", i), "A", "b1")...)
					evs = append(evs, views(fmt.Sprintf("v2-%d", i), "A", "b2")...)
				}
				for i := range 20 {
					evs = append(evs, views(fmt.Sprintf("pop%d", i), "b1")...)
				}
				return fixture{evs, shop(ids...)}
			},
			better: "b2", worse: "b1",
		},
		{
			// Learned before fallbacks: b2 was viewed with A once (weak
			// evidence, but A has no stronger), b1 is the category's
			// best seller, never with A.
			name: "a single co-view beats the best seller for an anchor with few partners",
			build: func() fixture {
				evs := views("once", "A", "b2")
				for i := range 10 {
					evs = append(evs, views(fmt.Sprintf("fan%d", i), "b1")...)
				}
				return fixture{evs, shop()}
			},
			better: "b2", worse: "b1",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.build()
			db := chtest.MustOpen(t)
			putProducts(t, db, f.products...)
			insertEvents(t, db, f.evs...)
			run(t, newEngine(t, db, testConfig(t)))
			order := strings1(t, db, `SELECT related_id FROM v_related_products WHERE site = ? AND product_id = 'A'
				GROUP BY related_id ORDER BY min(position)`, site)
			better, worse := slices.Index(order, c.better), slices.Index(order, c.worse)
			if better < 0 || (worse >= 0 && worse < better) {
				t.Errorf("A's related products %v: want %s before %s", order, c.better, c.worse)
			}
		})
	}
}

// The relation lists every related product once per anchor, with a
// strategy from the price rules: the camera shop's R5 (ten times the
// 250D) and L lens (twice its price) are 'similar', listed but never
// offered. Positions count 1, 2, 3, … per anchor, every row of one
// related product shares its position and strategy, and learned
// relations come before fallbacks.
func TestRelationListsEveryRelatedProductOnce(t *testing.T) {
	db := chtest.MustOpen(t)
	cameraCatalog(t, db)
	evs := cameraShop(t)
	evs = append(evs, ev{vid: "vnb", ago: day, typ: "product_view", pid: "cam250d"})
	insertEvents(t, db, evs...)
	audiences := segment.Templates()
	run(t, newEngine(t, db, testConfig(t, audiences...)))

	got := strings1(t, db, `SELECT concat(related_id, ' ', strategy) FROM v_related_products
		WHERE site = ? AND product_id = 'cam250d' AND related_id IN ('camr5', 'lensL', 'cam90d', 'lens50')
		GROUP BY related_id, strategy ORDER BY related_id`, site)
	want := []string{"cam90d upsell", "camr5 similar", "lens50 cross_sell", "lensL similar"}
	if !slices.Equal(got, want) {
		t.Errorf("cam250d's related products and strategies = %v, want %v", got, want)
	}
	// One position and one strategy per related product, positions
	// 1..n per anchor.
	bad := strings1(t, db, `SELECT product_id FROM (
			SELECT product_id, related_id, uniqExact(position) AS positions, uniqExact(strategy) AS strategies, min(position) AS pos
			FROM v_related_products WHERE site = ? GROUP BY product_id, related_id
		)
		GROUP BY product_id
		HAVING max(positions) != 1 OR max(strategies) != 1 OR min(pos) != 1 OR max(pos) != count()`, site)
	if len(bad) != 0 {
		t.Errorf("anchors whose positions are not 1..n, one per related product: %v", bad)
	}
	// Learned (and declared) before fallbacks, for every anchor.
	bad = strings1(t, db, `SELECT product_id FROM (
			SELECT product_id, related_id, min(position) AS pos,
				countIf(kind IN ('declared', 'co_view', 'co_purchase')) > 0 AS learned
			FROM v_related_products WHERE site = ? GROUP BY product_id, related_id
		)
		GROUP BY product_id
		HAVING countIf(learned) > 0 AND countIf(NOT learned) > 0 AND maxIf(pos, learned) > minIf(pos, NOT learned)`, site)
	if len(bad) != 0 {
		t.Errorf("anchors with a fallback placed before a learned relation: %v", bad)
	}
	// The policy still applies the price rules: no member is offered a
	// similar product.
	offered := strings1(t, db, `SELECT DISTINCT product_id FROM v_visitor_recommendations WHERE site = ? AND visitor_id = 'vnb'`, site)
	if len(offered) == 0 || slices.Contains(offered, "camr5") || slices.Contains(offered, "lensL") {
		t.Errorf("offered %v to a viewer of the 250D: want offers, never the R5 or the L lens", offered)
	}
}

// Every in-stock product with views gets related products, even alone
// in a category too small to fill a list: the shop's best sellers fill
// it, after what its category has.
func TestEveryViewedProductGetsRelatedProducts(t *testing.T) {
	db := chtest.MustOpen(t)
	var ps []catalog.Product
	var evs []ev
	for i := range 25 {
		id := fmt.Sprintf("p%02d", i)
		ps = append(ps, product(id, "T "+id, fmt.Sprintf("Cat %d", i%5), 10+float64(i)))
		for v := range i % 4 {
			evs = append(evs, views(fmt.Sprintf("v%s-%d", id, v), id)...)
		}
	}
	ps = append(ps, product("lonely", "Lonely", "Alone", 50))
	evs = append(evs, views("lv", "lonely")...)
	putProducts(t, db, ps...)
	insertEvents(t, db, evs...)
	cfg := testConfig(t)
	cfg.Segments.RelatedTopK = 5
	run(t, newEngine(t, db, cfg))
	missing := strings1(t, db, `SELECT product_id FROM v_products WHERE site = ? AND product_id NOT IN (
		SELECT product_id FROM v_related_products WHERE site = ? GROUP BY product_id HAVING count(DISTINCT related_id) >= 5)
		ORDER BY product_id`, site, site)
	if len(missing) != 0 {
		t.Errorf("products with fewer than 5 related products: %v", missing)
	}
	kinds := strings1(t, db, "SELECT DISTINCT kind FROM v_related_products WHERE site = ? AND product_id = 'lonely'", site)
	if !slices.Equal(kinds, []string{"bestseller"}) {
		t.Errorf("a product alone in its category got kinds %v, want the shop's best sellers", kinds)
	}
}
