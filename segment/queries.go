package segment

import (
	"embed"
	"fmt"
	"strings"

	"github.com/remarket/remarket/internal/chdb"
)

// The run's SQL lives in queries/*.sql; each file's top comment says what
// it computes. Values are bound parameters (@name); the few /*MARKER*/
// slots take fixed fragments from the tables below, never user text.
//
//go:embed queries/*.sql
var queryFiles embed.FS

// queryFor is query for a server of version v: a query with a NAME.legacy.sql
// beside it has two forms, the file's for current servers and the legacy
// one for ClickHouse 18.16 (chdb.Version.Legacy), which lacks what the
// current form uses (window functions). Both give the same rows
// (internal/crosscheck); dropping 18.16 deletes the legacy files.
func queryFor(v chdb.Version, name string, fragments ...string) string {
	if v.Legacy() {
		if _, err := queryFiles.Open("queries/" + name + ".legacy.sql"); err == nil {
			return query(name+".legacy", fragments...)
		}
	}
	return query(name, fragments...)
}

func query(name string, fragments ...string) string {
	b, err := queryFiles.ReadFile("queries/" + name + ".sql")
	if err != nil {
		panic(fmt.Sprintf("segment: missing query %s", name)) // embedded: a build defect
	}
	q := string(b)
	if len(fragments)%2 != 0 {
		panic("segment: fragments come in marker/text pairs")
	}
	for i := 0; i < len(fragments); i += 2 {
		q = strings.ReplaceAll(q, fragments[i], fragments[i+1])
	}
	return q
}

// optedOut is 00_opted_out with the opted-out browsers, which it reads
// twice, from their own file.
func optedOut() string {
	return query("00_opted_out", "/*OPTED_OUT_BROWSERS*/", query("opted_out_browsers"))
}

// interestLines keeps the plain events that count towards interests:
// those with a product, and product-less ones with a category (list views).
const interestLines = "AND (product_id != '' OR category != '')"

// priceRule is the price rules as a strategy number, 1 upsell, 2
// cross-sell, 0 neither (similar), of a related product b for an anchor
// a, over the columns cat_a, price_a, cur_a, cat_b, price_b and cur_b
// (cityHash64 of the currency) of the query it goes into (/*PRIO*/): an
// upsell is in the anchor's category, dearer, at most @up × its price; a
// cross-sell in another category at most @xs × its price; prices in
// two currencies are not compared (similar). Every related product gets
// its strategy from here.
const priceRule = `multiIf(price_a <= 0 OR price_b <= 0 OR cur_a != cur_b, 0,
    cat_b = cat_a AND price_b > price_a AND price_b <= @up * price_a, 1,
    cat_b != cat_a AND price_b <= @xs * price_a, 2, 0)`

// basketPairs is the basket_pairs fragment over baskets, a source of
// (basket, sign) rows.
func basketPairs(baskets string) string {
	return query("basket_pairs", "/*BASKETS*/", baskets)
}

// allBaskets are every basket of the run, for 07_pairs; BASKET is the
// kind's column.
const allBaskets = "SELECT /*BASKET*/ AS basket, toInt64(1) AS sign FROM seg_baskets WHERE site = @site AND run_id = @run"

// basketKinds are the co-occurrence kinds and the seg_baskets column
// holding each visitor's basket of that kind (03_profiles).
var basketKinds = []struct{ kind, column string }{
	{"co_view", "basket_view"},
	{"co_purchase", "basket_buy"},
}

// strategyPlan is how a strategy picks anchors and candidates.
type strategyPlan struct {
	anchorWhere string   // which of the member's products are anchors
	anchorKey   string   // the 3 with the highest first
	related     []string // related-product strategies offered
	self        bool     // offer the anchors themselves (reminder)
}

// recommendations is 12_recommendations with anchors chosen by where and
// key (fixed fragments from strategyPlans); the reminder branch reads
// them only when @self = 1.
func recommendations(where, key string) string {
	anchors := func(self string) string {
		return query("anchors", "/*ANCHOR_WHERE*/", where, "/*ANCHOR_KEY*/", key, "/*SELF*/", self)
	}
	return query("12_recommendations", "/*ANCHORS*/", anchors(""), "/*SELF_ANCHORS*/", anchors("@self = 1 AND"))
}

// prios are the related strategies as seg_related_best numbers them
// (11_related).
func (p strategyPlan) prios() []int {
	var out []int
	for _, s := range p.related {
		out = append(out, map[string]int{"upsell": 1, "cross_sell": 2}[s])
	}
	return out
}

var strategyPlans = map[string]strategyPlan{
	"upsell":     {"purchased_at = toDateTime(0)", "score", []string{"upsell", "cross_sell"}, false},
	"cross_sell": {"purchased_at > toDateTime(0)", "purchased_at", []string{"cross_sell"}, false},
	"reminder":   {"stage = 'carted'", "carted_at", []string{"upsell"}, true},
	"winback":    {"purchased_at > toDateTime(0)", "purchased_at", []string{"upsell", "cross_sell"}, false},
}
