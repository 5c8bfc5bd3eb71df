package clustercheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
	rmsql "github.com/remarket/remarket/sql"
)

// demoSite is the site `remarket demo` makes.
const demoSite = "demo"

// demoVisitors is how many shoppers the demo simulates (make
// bench-cluster takes BENCH_CLUSTER_VISITORS).
var demoVisitors = 400

var demo struct {
	once sync.Once
	cfg  config.Config
	now  time.Time // a minute after the simulation's last hit
	took time.Duration
	err  error
	out  string
}

// demoOnCluster runs `remarket demo --no-serve` on the cluster once:
// the collect API and the pixel through the spool into the Distributed
// events table, the catalog into the replicated catalog, a segment run.
func demoOnCluster(t testing.TB) (config.Config, time.Time) {
	t.Helper()
	migrated(t)
	demo.once.Do(func() {
		bin, err := buildRemarket()
		if err != nil {
			demo.err = err
			return
		}
		start := time.Now()
		cfgPath := runcheck.RunDemo(t, bin, cluster.DSN(database, cluster.Node(2, 1), cluster.Node(1, 1)),
			[]string{"REMARKET_CLICKHOUSE_CLUSTER=" + clusterName}, "--visitors", strconv.Itoa(demoVisitors))
		demo.took = time.Since(start)
		if demo.cfg, demo.err = config.Load(cfgPath, true); demo.err != nil {
			return
		}
		db, err := chdb.OpenCluster(context.Background(), cluster.DSN(database, cluster.Node(1, 2)), clusterName)
		if err != nil {
			demo.err = err
			return
		}
		defer db.Close()
		var anchor time.Time
		demo.err = db.QueryRow(context.Background(), "SELECT max(anchor) FROM demo_runs WHERE site = ?", demoSite).Scan(&anchor)
		demo.now = anchor.Add(time.Minute)
	})
	if demo.err != nil {
		t.Fatal(demo.err)
	}
	return demo.cfg, demo.now
}

// The demo's events, catalog, joins, redemptions and offer windows (the
// demo's campaign read the feeds) copied from the cluster to a single
// node: a segment run and an evaluation with the same clock on both show
// the same audience sizes, members, interests, profiles, related
// products, recommendations, audience product lists, feeds and
// evaluation figures.
func TestSegmentRunsShowWhatOneNodeShows(t *testing.T) {
	cfg, now := demoOnCluster(t)
	t.Logf("remarket demo on the cluster took %s", demo.took.Round(time.Millisecond))
	clustered := openCluster(t, cluster.DSN(database, cluster.Node(1, 2), cluster.Node(2, 2)))
	one := demoCopy(t, "same")
	start := time.Now()
	a := runcheck.Compute(t, cfg, one, "one node", demoSite, now)
	t.Logf("one node: run and evaluation in %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	b := runcheck.Compute(t, cfg, clustered, "the cluster", demoSite, now)
	t.Logf("the cluster: run and evaluation in %s", time.Since(start).Round(time.Millisecond))
	runcheck.Compare(t, a, b)
}

// demoCopy is a database of the single node, named name, with a copy of
// what the demo's segment runs read on the cluster, as it is now: its
// events, catalog, discount rules, joins, redemptions and offer windows.
func demoCopy(t testing.TB, name string) *chdb.DB {
	t.Helper()
	return siteCopy(t, name, demoSite)
}

// siteCopy is demoCopy for any site.
func siteCopy(t testing.TB, name, site string) *chdb.DB {
	t.Helper()
	ctx := context.Background()
	one, err := chdb.Open(ctx, single.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { one.Close() })
	if _, err := rmsql.Migrate(ctx, one); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"events", "catalog_products", "catalog_versions", "feed_discount_rules", "seg_member_joins", "offer_redemptions", "feed_offer_windows"} {
		runcheck.CopyTable(t, cluster.Node(1, 1), database, single, name, table, "site = '"+site+"'")
	}
	return one
}

// Feeds and member exports answer the same through every node: each
// reads the current-run pointer on its own replica, the run's rows from
// every shard.
func TestFeedsAndMembersFromEveryNode(t *testing.T) {
	cfg, now := demoOnCluster(t)
	site, _ := cfg.Site(demoSite)
	var first map[string]string
	for i, n := range cluster.Nodes {
		db := openCluster(t, cluster.DSN(database, n))
		api := feeds.NewAPI(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
		api.Now = func() time.Time { return now }
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		api.Register(r)
		got := map[string]string{}
		for _, path := range []string{
			"/feeds/demo/viewed_not_bought/google.xml?token=" + url.QueryEscape(site.FeedToken),
			"/feeds/demo/cart_abandoners/feed.json?token=" + url.QueryEscape(site.FeedToken),
			"/api/sites/demo/audiences/viewed_not_bought/members?format=csv",
		} {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer "+site.AdminToken)
			r.ServeHTTP(w, req)
			if w.Code != http.StatusOK || w.Body.Len() < 100 {
				t.Fatalf("node %d: %s answered %d: %.300s", i+1, path, w.Code, w.Body.String())
			}
			got[path] = w.Body.String()
		}
		api.Close()
		if i == 0 {
			first = got
			continue
		}
		for path, body := range got {
			if body != first[path] {
				t.Errorf("node %d answers %s otherwise than node 1", i+1, path)
			}
		}
	}
}

// An incremental run on the cluster shows what a full run on one node
// shows on the same events: after a full run on the cluster come new
// events of returning and new visitors (one of them identified as a
// known person), late events dated weeks back, copies of stored events
// re-sent with another product (received before and after the stored
// copy), an order with order lines and an opt-out that follows a person
// to their other browsers, whichever shards hold them. The catalog
// changes too: one product's price (the price bands move for every
// visitor), another's category, a third leaves it and a new one joins it
// ahead of every other (every product's number moves).
func TestIncrementalRunOnTheClusterEqualsOneNodesFullRun(t *testing.T) {
	cfg, now := demoOnCluster(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clustered := openCluster(t, cluster.DSN(database, cluster.Node(1, 2), cluster.Node(2, 2)))
	later := now.Add(30 * time.Minute)
	// The demo shop is small: every increment is a large share of it, and
	// the catalog's changes reach most of its visitors.
	cfg.Segments.IncrementalMaxNewEventsPercent = 100
	cfg.Segments.IncrementalMaxCatalogReachPercent = 100
	eng := segment.New(cfg, clustered, log)
	eng.SetInsertMargin(0) // inserts and runs follow one another here
	eng.Now = func() time.Time { return now }
	if _, err := eng.Run(ctx, demoSite, segment.RunOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	evs, optedOut := demoIncrement(t, clustered, 100, now, later, 15)
	insertNewEvents(t, clustered, evs)
	changeCatalog(t, clustered)

	// Copied before the cluster's second run: both start from the same
	// joins, redemptions and offer windows.
	one := demoCopy(t, "incremental")

	res, b := runAndRead(t, cfg, clustered, "the cluster, incremental", demoSite, later, false)
	if res.Mode != segment.ModeIncremental {
		t.Fatalf("the cluster's run after %d new events was %s: %s", len(evs), res.Mode, res.Reason)
	}
	var visitors uint64
	if err := clustered.QueryRow(ctx, "SELECT uniqExact(visitor_id) FROM events WHERE site = ?", demoSite).Scan(&visitors); err != nil {
		t.Fatal(err)
	}
	if res.Affected == 0 || res.Affected >= visitors {
		t.Errorf("the incremental run recomputed %d of %d visitors", res.Affected, visitors)
	}
	var out uint8
	if err := clustered.QueryRow(ctx, "SELECT opted_out FROM v_visitor_profiles WHERE site = ? AND run_id = ? AND visitor_id = ?",
		demoSite, res.RunID, optedOut).Scan(&out); err != nil || out != 1 {
		t.Errorf("browser %s of the person who opted out on another: opted_out = %d (%v)", optedOut, out, err)
	}
	t.Logf("the cluster's incremental run recomputed %d of %d visitors after %d new events in %s", res.Affected, visitors, len(evs), res.Took.Round(time.Millisecond))
	_, a := runAndRead(t, cfg, one, "one node, full", demoSite, later, true)
	runcheck.Compare(t, a, b)
}

// runAndRead runs segments for site on db with the clock at at, inserts
// and runs following one another (no insert margin), and reads what the
// run shows users. engine names db in messages.
func runAndRead(t testing.TB, cfg config.Config, db *chdb.DB, engine, site string, at time.Time, full bool) (segment.RunResult, runcheck.Snapshot) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := feeds.NewAPI(cfg, db, log)
	defer api.Close()
	api.Now = func() time.Time { return at }
	e := segment.New(cfg, db, log)
	e.SetInsertMargin(0)
	e.Now = func() time.Time { return at }
	e.SetRedemptions(api)
	res, err := e.Run(context.Background(), site, segment.RunOptions{Full: full})
	if err != nil {
		t.Fatalf("segment run on %s: %v", engine, err)
	}
	runcheck.PinFinish(t, db, site, res.RunID, at)
	return res, runcheck.Read(t, cfg, db, api, engine, site, res.RunID)
}

// changeCatalog imports the demo's catalog again with its most viewed
// product three times as dear, the next one moved to a category of its
// own, the third left out, and a new product whose id sorts first.
func changeCatalog(t testing.TB, db *chdb.DB) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	if err := db.QueryRow(ctx, `SELECT groupArray(product_id) FROM (
		SELECT product_id FROM events WHERE site = ? AND product_id GLOBAL IN (SELECT product_id FROM v_products WHERE site = ?)
		GROUP BY product_id ORDER BY count() DESC, product_id LIMIT 3)`, demoSite, demoSite).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if len(ids) < 3 {
		t.Fatalf("the demo's catalog has %d viewed products", len(ids))
	}
	store := catalog.NewStore(db, nil)
	page, err := store.List(ctx, demoSite, 100000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	products := append(page.Products, catalog.Product{ID: "000-new-strap", Title: "New Strap", Link: "https://shop.example/p/000-new-strap",
		Price: 19, Currency: page.Products[0].Currency, Availability: catalog.InStock, Condition: "new", Category: "Straps"})
	for _, p := range products {
		switch p.ID {
		case ids[0]:
			p.Price *= 3
		case ids[1]:
			p.Category = "Moved > Elsewhere"
		case ids[2]:
			continue
		}
		if err := enc.Encode(importRow(p)); err != nil {
			t.Fatal(err)
		}
	}
	if rep, err := store.Import(ctx, demoSite, &body, catalog.ImportOptions{Format: catalog.JSONL, Source: "test"}); err != nil || rep.Imported != len(products)-1 {
		t.Fatalf("import the changed catalog: %+v %v", rep, err)
	}
}

// importRow is a product as a row of the JSON lines import, its unknown
// dates left out.
func importRow(p catalog.Product) map[string]any {
	row := map[string]any{"id": p.ID, "title": p.Title, "description": p.Description, "link": p.Link, "image_link": p.ImageLink,
		"price": p.Price, "currency": p.Currency, "availability": p.Availability, "condition": p.Condition, "brand": p.Brand,
		"gtin": p.GTIN, "mpn": p.MPN, "category": p.Category, "google_product_category": p.GoogleProductCategory,
		"item_group_id": p.ItemGroupID, "stock_quantity": p.StockQuantity, "tags": p.Tags, "margin": p.Margin,
		"complements": p.Complements, "upgrades": p.Upgrades}
	if p.LaunchDate.Year() > 1970 {
		row["launch_date"] = p.LaunchDate.Format(time.DateOnly)
	}
	if p.AvailabilityDate.Year() > 1970 {
		row["availability_date"] = p.AvailabilityDate.Format(time.RFC3339)
	}
	return row
}

// newEvent is an event a test or benchmark adds to the demo's.
type newEvent struct {
	id                     uuid.UUID
	at, received           time.Time
	typ, vid, uid, product string
	category               string
	price                  float64
	qty                    uint32
	items                  []string // order lines' products
	itemCategories         []string
	itemPrices             []float64
	optedOut               uint8
}

// demoIncrement makes about n events to add to the demo's events in db,
// of the kinds TestIncrementalRunOnTheClusterEqualsOneNodesFullRun
// describes, dated from now to later (and weeks before), from seed.
// It also returns a browser the increment's opt-out reaches through the
// person's user id.
func demoIncrement(t testing.TB, db *chdb.DB, n int, now, later time.Time, seed uint64) ([]newEvent, string) {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 2))
	var visitors, users, products, categories []string
	var prices []float64
	scan := func(q string, dest func(rows driver.Rows) error, args ...any) {
		rows, err := db.Query(ctx, q, append([]any{demoSite}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := dest(rows); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	scan(`SELECT visitor_id, any(user_id) FROM events WHERE site = ? AND visitor_id != '' AND is_bot = 0
		GROUP BY visitor_id ORDER BY cityHash64(visitor_id, ?) LIMIT 200`, func(rows driver.Rows) error {
		var v, u string
		err := rows.Scan(&v, &u)
		visitors, users = append(visitors, v), append(users, u)
		return err
	}, seed)
	scan(`SELECT product_id, any(category), any(price) FROM events WHERE site = ? AND product_id != '' AND category != ''
		GROUP BY product_id ORDER BY product_id LIMIT 30`, func(rows driver.Rows) error {
		var p, c string
		var price float64
		err := rows.Scan(&p, &c, &price)
		products, categories, prices = append(products, p), append(categories, c), append(prices, price)
		return err
	})
	// A known person who comes back on a new browser, preferably one on
	// the other shard than their browser seen before.
	newBrowser := fmt.Sprintf("new-%d-0", seed)
	var person, seen string
	scan(`SELECT user_id, any(visitor_id) AS v FROM events WHERE site = ? AND user_id != '' AND visitor_id != '' AND is_bot = 0
		GROUP BY user_id ORDER BY cityHash64(v) % 2 = cityHash64(?) % 2, cityHash64(user_id, ?) LIMIT 1`, func(rows driver.Rows) error {
		return rows.Scan(&person, &seen)
	}, newBrowser, seed)
	if person == "" {
		t.Fatal("the demo has no identified visitor")
	}
	t.Logf("person %s, seen on browser %s, comes back on %s", person, seen, newBrowser)
	if len(visitors) < 20 || len(products) < 5 {
		t.Fatalf("the demo has %d visitors and %d products to build on", len(visitors), len(products))
	}

	var evs []newEvent
	viewed := func(e newEvent) newEvent {
		k := r.IntN(len(products))
		e.product, e.category, e.price, e.qty = products[k], categories[k], prices[k], 1
		return e
	}
	between := func() time.Time {
		return now.Add(time.Duration(1 + r.Int64N(int64(later.Sub(now)-time.Second)))).Truncate(time.Second)
	}
	types := []string{"product_view", "product_view", "product_view", "add_to_cart", "purchase"}
	for range n * 6 / 10 { // returning visitors
		i := r.IntN(len(visitors))
		at := between()
		evs = append(evs, viewed(newEvent{id: uuid.New(), at: at, received: at, typ: types[r.IntN(len(types))], vid: visitors[i], uid: users[i]}))
	}
	fresh := max(1, n/30)
	for i := range n * 15 / 100 { // new visitors, one the known person
		at := between()
		e := newEvent{id: uuid.New(), at: at, received: at, typ: types[r.IntN(len(types))], vid: fmt.Sprintf("new-%d-%d", seed, i%fresh)}
		if e.vid == newBrowser {
			e.uid = person
		}
		evs = append(evs, viewed(e))
	}
	for range n / 10 { // late: stored now, dated weeks back
		i := r.IntN(len(visitors))
		at := now.Add(-time.Duration(10+r.IntN(30)) * 24 * time.Hour).Truncate(time.Second)
		evs = append(evs, viewed(newEvent{id: uuid.New(), at: at, received: later.Add(-time.Minute), typ: types[r.IntN(len(types))], vid: visitors[i], uid: users[i]}))
	}
	// Re-sent copies of stored events with another product: received
	// after the stored copy (which stays) and before it (which it replaces).
	scan(`SELECT event_id, event_time, received_at, type, visitor_id, user_id FROM events
		WHERE site = ? AND product_id != '' AND type IN ('product_view', 'add_to_cart') ORDER BY cityHash64(toString(event_id), ?) LIMIT ?`, func(rows driver.Rows) error {
		var e newEvent
		err := rows.Scan(&e.id, &e.at, &e.received, &e.typ, &e.vid, &e.uid)
		shift := time.Hour
		if len(evs)%2 == 0 {
			shift = -time.Hour
		}
		e.received = e.received.Add(shift)
		evs = append(evs, viewed(e))
		return err
	}, seed, max(2, n/10))
	// An order with two order lines.
	at := between()
	evs = append(evs, newEvent{id: uuid.New(), at: at, received: at, typ: "purchase", vid: visitors[0], uid: users[0], qty: 2,
		items: []string{products[1], products[3]}, itemCategories: []string{categories[1], categories[3]}, itemPrices: []float64{prices[1], prices[3]}})
	// The person opts out on the new browser, last thing it does: that
	// opts out the browser seen before too.
	return append(evs, newEvent{id: uuid.New(), at: later, received: later, typ: "page_view", vid: newBrowser, uid: person, optedOut: 1}), seen
}

// insertNewEvents inserts evs into db's events (on a cluster, the
// Distributed table, synchronously).
func insertNewEvents(t testing.TB, db *chdb.DB, evs []newEvent) {
	t.Helper()
	b, err := db.PrepareBatch(context.Background(), `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id,
		product_id, category, price, quantity, items.product_id, items.sku, items.category, items.price, items.quantity, opted_out)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		skus, qty := make([]string, len(e.items)), make([]uint32, len(e.items))
		for i := range e.items {
			qty[i] = e.qty
		}
		if err := b.Append(demoSite, e.id, e.at, e.received, e.typ, e.vid, e.uid, e.product, e.category, e.price, e.qty,
			e.items, skus, e.itemCategories, e.itemPrices, qty, e.optedOut); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}
