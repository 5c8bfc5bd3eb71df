package segment_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/segment"
)

// cameraShop is the seed's example: cameras, lenses and bags, with a body
// ten times the price (never an upsell), a lens twice the camera's price
// (never a cross-sell) and an out-of-stock body.
func cameraShop(t *testing.T) []ev {
	t.Helper()
	var evs []ev
	// Visitors compare the 250D with the 90D and the R5, and buy lenses
	// and bags with the 250D.
	for i, v := range []string{"a1", "a2", "a3", "a4", "a5", "a6"} {
		evs = append(evs,
			ev{vid: v, ago: 10 * day, typ: "product_view", pid: "cam250d"},
			ev{vid: v, ago: 10*day - 1000, typ: "product_view", pid: "cam90d"},
			ev{vid: v, ago: 10*day - 2000, typ: "product_view", pid: "camr5"},
			ev{vid: v, ago: 10*day - 2500, typ: "product_view", pid: "cam200d"},
		)
		if i < 4 {
			evs = append(evs, ev{vid: v, ago: 9 * day, typ: "purchase", items: []string{"cam250d", "lens50", "lensL", "bag"}})
		}
	}
	// Unrelated traffic so that the pairs above stand out.
	for _, v := range []string{"b1", "b2", "b3", "b4"} {
		evs = append(evs, ev{vid: v, ago: 5 * day, typ: "product_view", pid: "tripod"}, ev{vid: v, ago: 5 * day, typ: "purchase", pid: "tripod"})
	}
	return evs
}

// cameraCatalog is the catalog cameraShop's visitors browse.
func cameraCatalog(t *testing.T, db *chdb.DB) {
	putProducts(t, db,
		product("cam250d", "Canon EOS 250D", "Cameras > DSLR", 500),
		product("cam90d", "Canon EOS 90D", "Cameras > DSLR", 700),
		product("camr5", "Canon EOS R5", "Cameras > DSLR", 5000),
		product("cam200d", "Canon EOS 200D", "Cameras > DSLR", 600, outOfStock),
		product("lens50", "Canon EF 50mm f/1.8", "Cameras > Lenses", 250),
		product("lensL", "Canon EF 70-200mm L", "Cameras > Lenses", 1000),
		product("bag", "Camera bag", "Accessories > Bags", 50),
		product("tripod", "Tripod", "Accessories > Tripods", 80),
	)
}

func TestRelatedProductsObeyPriceRules(t *testing.T) {
	db := chtest.MustOpen(t)
	cameraCatalog(t, db)
	insertEvents(t, db, cameraShop(t)...)
	e := newEngine(t, db, testConfig(t))
	run(t, e)

	up := strings1(t, db, "SELECT related_id FROM v_related_products WHERE site = ? AND product_id = 'cam250d' AND strategy = 'upsell' GROUP BY related_id ORDER BY related_id", site)
	if !slices.Equal(up, []string{"cam90d"}) {
		t.Errorf("upsells of the 250D = %v, want [cam90d] (R5 is 10× the price, 200D out of stock)", up)
	}
	xs := strings1(t, db, "SELECT related_id FROM v_related_products WHERE site = ? AND product_id = 'cam250d' AND strategy = 'cross_sell' GROUP BY related_id ORDER BY related_id", site)
	if slices.Contains(xs, "lensL") || !slices.Contains(xs, "lens50") || !slices.Contains(xs, "bag") {
		t.Errorf("cross-sells of the 250D = %v, want lens50 and bag, never lensL (twice the price)", xs)
	}
	kinds := strings1(t, db, "SELECT DISTINCT kind FROM v_related_products WHERE site = ? AND product_id = 'cam250d' AND related_id = 'cam90d'", site)
	if !slices.Contains(kinds, "co_view") {
		t.Errorf("250D → 90D kinds = %v, want co_view among them", kinds)
	}
	reason := strings1(t, db, "SELECT reason FROM v_related_products WHERE site = ? AND product_id = 'cam250d' AND related_id = 'lens50' LIMIT 1", site)
	if len(reason) != 1 || reason[0] != "Goes with your Canon EOS 250D" {
		t.Errorf("reason = %v", reason)
	}
}

// With segments.max_items_per_basket = 2, only each visitor's two most
// recently viewed products pair up: x1, viewed first by everybody, has no
// co-view partner, while x2 and x3 do.
func TestBasketsKeepTheMostRecentProducts(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db,
		product("x1", "X1", "Bikes", 100), product("x2", "X2", "Bikes", 110), product("x3", "X3", "Bikes", 120),
		product("y1", "Y1", "Shoes", 50), product("y2", "Y2", "Shoes", 55),
	)
	var evs []ev
	for _, v := range []string{"v1", "v2", "v3"} {
		evs = append(evs,
			ev{vid: v, ago: 3 * day, typ: "product_view", pid: "x1"},
			ev{vid: v, ago: 2 * day, typ: "product_view", pid: "x2"},
			ev{vid: v, ago: 1 * day, typ: "product_view", pid: "x3"},
			ev{vid: v, ago: 1 * day, typ: "product_view", pid: "x3"}, // twice: still one basket item
		)
	}
	for _, v := range []string{"w1", "w2", "w3"} {
		evs = append(evs, ev{vid: v, ago: day, typ: "product_view", pid: "y1"}, ev{vid: v, ago: day / 2, typ: "product_view", pid: "y2"})
	}
	insertEvents(t, db, evs...)
	cfg := testConfig(t)
	cfg.Segments.MaxItemsPerBasket = 2
	run(t, newEngine(t, db, cfg))

	coView := func(pid string) []string {
		return strings1(t, db, "SELECT related_id FROM v_related_products WHERE site = ? AND product_id = ? AND kind = 'co_view' ORDER BY related_id", site, pid)
	}
	if got := coView("x2"); !slices.Equal(got, []string{"x3"}) {
		t.Errorf("co-views of x2 = %v, want [x3]", got)
	}
	if got := coView("x1"); len(got) != 0 {
		t.Errorf("co-views of x1 = %v, want none (never among a visitor's two latest)", got)
	}
}

// A product nobody has seen yet gets cross-sells from the best sellers of
// its category's complements (co-bought categories, siblings under the
// same top level) and upsells from its own category, each within its own
// price limits: the categories' candidates are shared, the limits are the
// anchor's.
func TestFallbacksKeepEachAnchorsPriceLimits(t *testing.T) {
	db := chtest.MustOpen(t)
	cameraCatalog(t, db)
	putProducts(t, db,
		product("camNew", "Canon EOS 300D", "Cameras > DSLR", 500),
		product("camCheap", "Canon EOS 100D", "Cameras > DSLR", 100),
	)
	insertEvents(t, db, cameraShop(t)...)
	run(t, newEngine(t, db, testConfig(t)))

	fallback := func(anchor, strategy string) []string {
		return strings1(t, db, "SELECT related_id FROM v_related_products WHERE site = ? AND product_id = ? AND kind = 'category_fallback' AND strategy = ? ORDER BY related_id", site, anchor, strategy)
	}
	// Upsells: same category, dearer, within 1.5 × the price, in stock:
	// for 500 the 90D (700), not the R5 (5000), the out-of-stock 200D
	// (600) nor the 250D (500, not dearer); nothing for 100 (≤ 150).
	if got := fallback("camNew", "upsell"); !slices.Equal(got, []string{"cam90d"}) {
		t.Errorf("fallback upsells of a new 500 camera = %v, want [cam90d]", got)
	}
	if got := fallback("camCheap", "upsell"); len(got) != 0 {
		t.Errorf("fallback upsells of a new 100 camera = %v, want none", got)
	}
	// Lenses are the DSLRs' sibling and were bought with them, bags were
	// bought with them; tripods never were. 0.6 × 500 = 300 admits the
	// 50mm (250) and the bag (50), not the L lens (1000).
	if got := fallback("camNew", "cross_sell"); !slices.Equal(got, []string{"bag", "lens50"}) {
		t.Errorf("fallback cross-sells of a new 500 camera = %v, want [bag lens50]", got)
	}
	// 0.6 × 100 = 60 admits only the bag.
	if got := fallback("camCheap", "cross_sell"); !slices.Equal(got, []string{"bag"}) {
		t.Errorf("fallback cross-sells of a new 100 camera = %v, want [bag]", got)
	}
}

// A cross-sell is from a complementary category: the shop's best seller
// that fills a camera's short list (socks, bought by everybody, in a
// category never bought with cameras nor under the same top level) is
// listed as similar, never "Goes with your Canon EOS 250D", and the
// camera's buyer is offered the lens (a sibling category), not the socks.
func TestShopBestSellersAreNoCrossSellOfUnrelatedCategories(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db,
		product("cam250d", "Canon EOS 250D", "Cameras > DSLR", 500),
		product("lens50", "Canon EF 50mm f/1.8", "Cameras > Lenses", 250),
		product("socks", "Socks", "Clothes > Socks", 5),
	)
	var evs []ev
	for _, v := range []string{"s1", "s2", "s3", "s4"} {
		evs = append(evs, ev{vid: v, ago: 5 * day, typ: "purchase", pid: "socks"})
	}
	evs = append(evs, ev{vid: "buyer", ago: 20 * day, typ: "purchase", pid: "cam250d"})
	insertEvents(t, db, evs...)
	run(t, newEngine(t, db, testConfig(t, segment.Templates()...)))

	got := strings1(t, db, "SELECT concat(kind, ' ', strategy) FROM v_related_products WHERE site = ? AND product_id = 'cam250d' AND related_id = 'socks'", site)
	if !slices.Equal(got, []string{"bestseller similar"}) {
		t.Errorf("cam250d → socks = %v, want [bestseller similar]", got)
	}
	list := strings1(t, db, "SELECT product_id FROM v_visitor_recommendations WHERE site = ? AND visitor_id = 'buyer' AND audience = 'recent_buyers' ORDER BY rank", site)
	if !slices.Equal(list, []string{"lens50"}) {
		t.Errorf("the camera buyer's cross-sells = %v, want [lens50]", list)
	}
}

// "Within" the price ratios includes the limit itself: a $43.20 lens is
// exactly 0.6 × a $72 camera and a $3.60 snack exactly 1.5 × a $2.40
// one, though 0.6 × 72 and 1.5 × 2.4 come out a hair below in floating
// point. Every kind that finds them (learned, declared, fallback) gives
// the cross-sell and the upsell.
func TestPricesAtTheRatioLimitAreWithin(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db,
		product("cam", "Camera", "Cameras > DSLR", 72, func(p *catalog.Product) { p.Complements = []string{"lens"} }),
		product("lens", "Lens", "Cameras > Lenses", 43.20),
		product("snack", "Snack", "Food > Snacks", 2.40, func(p *catalog.Product) { p.Upgrades = []string{"treat"} }),
		product("treat", "Treat", "Food > Snacks", 3.60),
	)
	var evs []ev
	for _, v := range []string{"v1", "v2", "v3"} {
		evs = append(evs, views(v+"c", "cam", "lens")...)
		evs = append(evs, views(v+"s", "snack", "treat")...)
	}
	insertEvents(t, db, evs...)
	run(t, newEngine(t, db, testConfig(t)))
	for _, tc := range []struct{ anchor, related, want string }{
		{"cam", "lens", "cross_sell"},
		{"snack", "treat", "upsell"},
	} {
		got := strings1(t, db, "SELECT concat(kind, ' ', strategy) FROM v_related_products WHERE site = ? AND product_id = ? AND related_id = ? ORDER BY kind", site, tc.anchor, tc.related)
		if len(got) < 3 {
			t.Errorf("%s → %s: kinds %v, want declared, co_view and category_fallback", tc.anchor, tc.related, got)
		}
		for _, g := range got {
			if !strings.HasSuffix(g, " "+tc.want) {
				t.Errorf("%s → %s: %v, want every kind %s", tc.anchor, tc.related, got, tc.want)
				break
			}
		}
	}
}

// Prices in two currencies cannot be compared: a 600 EUR body is no
// upsell of a 500 USD one, nor a 50 EUR bag a cross-sell of it, whichever
// kind finds them (learned, declared, fallback); the same products in
// dollars are.
func TestPricesInAnotherCurrencyAreNotCompared(t *testing.T) {
	db := chtest.MustOpen(t)
	eur := func(p *catalog.Product) { p.Currency = "EUR" }
	putProducts(t, db,
		product("cam", "Camera", "Cameras > DSLR", 500, func(p *catalog.Product) {
			p.Upgrades = []string{"body_eur", "body_usd"}
			p.Complements = []string{"bag_eur", "bag_usd"}
		}),
		product("body_eur", "Body EUR", "Cameras > DSLR", 600, eur),
		product("body_usd", "Body USD", "Cameras > DSLR", 600),
		product("bag_eur", "Bag EUR", "Cameras > Bags", 50, eur),
		product("bag_usd", "Bag USD", "Cameras > Bags", 50),
		product("other", "Other", "Misc", 1000),
	)
	var evs []ev
	for _, v := range []string{"v1", "v2", "v3"} {
		evs = append(evs, views(v, "cam", "body_eur", "body_usd", "bag_eur", "bag_usd")...)
		evs = append(evs, views("o"+v, "other")...)
	}
	insertEvents(t, db, evs...)
	run(t, newEngine(t, db, testConfig(t)))
	got := strings1(t, db, `SELECT concat(related_id, ' ', arrayStringConcat(groupUniqArray(strategy), ','), ' ', arrayStringConcat(arraySort(groupArray(kind)), ','))
		FROM v_related_products WHERE site = ? AND product_id = 'cam' GROUP BY related_id ORDER BY related_id`, site)
	want := []string{
		"bag_eur similar co_view,declared",
		"bag_usd cross_sell category_fallback,co_view,declared",
		"body_eur similar co_view,declared",
		"body_usd upsell category_fallback,co_view,declared",
		"other similar bestseller",
	}
	if !slices.Equal(got, want) {
		t.Errorf("cam's related products (id, strategies, kinds) = %v, want %v", got, want)
	}
}

// Variants of one item (the same item_group_id) are viewed together by
// everyone who looks at it: they must not become each other's related
// products, nor a dearer size an "upgrade", unless the catalog declares
// the relation.
func TestVariantsAreNotEachOthersRelatedProducts(t *testing.T) {
	db := chtest.MustOpen(t)
	group := variantOf
	putProducts(t, db,
		product("shirt-m", "Oxford shirt M", "Apparel > Shirts", 40, group("oxford")),
		product("shirt-l", "Oxford shirt L", "Apparel > Shirts", 42, group("oxford")),
		product("shirt-xl", "Oxford shirt XL", "Apparel > Shirts", 45, group("oxford")),
		product("shirt-xxl", "Oxford shirt XXL", "Apparel > Shirts", 48, group("oxford"), func(p *catalog.Product) { p.Upgrades = []string{"shirt-m"} }),
		product("linen", "Linen shirt", "Apparel > Shirts", 55, group("linen")),
		product("tie", "Silk tie", "Apparel > Ties", 20),
	)
	var evs []ev
	for i := range 8 {
		v := "v" + string(rune('a'+i))
		evs = append(evs,
			ev{vid: v, ago: 3 * day, typ: "product_view", pid: "shirt-m"},
			ev{vid: v, ago: 3*day - 100, typ: "product_view", pid: "shirt-l"},
			ev{vid: v, ago: 3*day - 200, typ: "product_view", pid: "shirt-xl"},
			ev{vid: v, ago: 3*day - 300, typ: "product_view", pid: "linen"},
			ev{vid: v, ago: 3*day - 400, typ: "purchase", items: []string{"shirt-m", "tie"}},
		)
	}
	insertEvents(t, db, evs...)
	e := newEngine(t, db, testConfig(t))
	run(t, e)

	related := strings1(t, db, "SELECT related_id FROM v_related_products WHERE site = ? AND product_id = 'shirt-m' GROUP BY related_id ORDER BY related_id", site)
	for _, variant := range []string{"shirt-l", "shirt-xl", "shirt-xxl"} {
		if slices.Contains(related, variant) {
			t.Errorf("related products of shirt M = %v: its variant %s is among them", related, variant)
		}
	}
	if !slices.Contains(related, "linen") || !slices.Contains(related, "tie") {
		t.Errorf("related products of shirt M = %v, want the linen shirt (co-viewed, another item) and the tie (bought with it)", related)
	}
	declared := strings1(t, db, "SELECT DISTINCT kind FROM v_related_products WHERE site = ? AND product_id = 'shirt-xxl' AND related_id = 'shirt-m'", site)
	if !slices.Equal(declared, []string{"declared"}) {
		t.Errorf("shirt XXL → shirt M kinds = %v, want [declared]: a relation the catalog declares stays", declared)
	}
}
