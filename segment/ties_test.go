package segment_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/chtest"
)

// A visitor's interests answer in one order on every server and every
// call: by score, and equal scores by key. Ties are the common case: every
// level of a category path holds the same interest rows, so a visitor of
// one product has as many equal category scores as the path has levels,
// and products viewed in the same second score alike. Sorting by score
// alone left them in the order the grouping produced them, which is a
// hash table's: 18.16 and 26.x answered them differently.
func TestVisitorInterestsAnswerTiesInOneOrder(t *testing.T) {
	db := chtest.MustOpen(t)
	putProducts(t, db,
		product("zoom", "Zoom", "Photo > Lenses > Zoom > Tele", 300),
		product("prime", "Prime", "Photo > Lenses > Prime > Wide", 300),
		product("tripod", "Tripod", "Photo > Support > Tripods > Carbon", 300),
		product("bag", "Bag", "Bags > Shoulder > Leather > Brown", 300),
	)
	// One view each, in one second: every product scores the same.
	insertEvents(t, db,
		ev{vid: "v1", ago: 2 * day, typ: "product_view", pid: "zoom"},
		ev{vid: "v1", ago: 2 * day, typ: "product_view", pid: "prime"},
		ev{vid: "v1", ago: 2 * day, typ: "product_view", pid: "tripod"},
		ev{vid: "v1", ago: 2 * day, typ: "product_view", pid: "bag"},
	)
	api, call := serveAPI(t, db, testConfig(t))
	run(t, api.Engine())
	code, body := call("GET", "/api/sites/shop/visitors/v1/interests", "")
	if code != 200 {
		t.Fatalf("interests: %d %s", code, body)
	}
	var out struct {
		Categories []struct {
			Key   string  `json:"key"`
			Score float64 `json:"score"`
		} `json:"categories"`
		Products []struct {
			Key   string  `json:"key"`
			Score float64 `json:"score"`
		} `json:"products"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	var cats, prods []string
	for _, c := range out.Categories {
		cats = append(cats, c.Key)
	}
	for _, p := range out.Products {
		prods = append(prods, p.Key)
	}
	// "Photo" holds three products; "Photo > Lenses" two; every other
	// category one, as every product does.
	wantCats := []string{"Photo", "Photo > Lenses",
		"Bags", "Bags > Shoulder", "Bags > Shoulder > Leather", "Bags > Shoulder > Leather > Brown",
		"Photo > Lenses > Prime", "Photo > Lenses > Prime > Wide", "Photo > Lenses > Zoom", "Photo > Lenses > Zoom > Tele",
		"Photo > Support", "Photo > Support > Tripods", "Photo > Support > Tripods > Carbon"}
	if !slices.Equal(cats, wantCats) {
		t.Errorf("categories in the order\n  %s\nwant\n  %s", strings.Join(cats, " | "), strings.Join(wantCats, " | "))
	}
	if want := []string{"bag", "prime", "tripod", "zoom"}; !slices.Equal(prods, want) {
		t.Errorf("products in the order %v, want %v", prods, want)
	}
}
