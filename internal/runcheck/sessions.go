package runcheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
)

// SessionEvent is one event of a replayed real session.
type SessionEvent struct {
	ID       uuid.UUID
	At       time.Time
	Type     string // product_view, add_to_cart or purchase
	Visitor  string
	Product  string
	Items    []string // the order's lines, when it has several products
	Quantity uint32
}

// Sessions replays the real YooChoose click sessions beside the checkout
// (../shared/data/yoochoose-100k, the named files in turn) as a shop's
// traffic, with what the data lacks assigned from hashes of the ids:
// each click is a product view of the session's visitor, shifted so the
// last click lands an hour before end; a session in five also carts its
// last viewed item a minute later, a third of those buy it (two units) a
// minute after that, and some orders also buy the item viewed before it.
// The catalog has every item with a price and a category, but one in 37
// (known only from events), and one in 23 out of stock. Events come in
// time order. On a laptop without the data the test is skipped; under CI
// it fails.
func Sessions(t testing.TB, end time.Time, files ...string) ([]catalog.Product, []SessionEvent) {
	t.Helper()
	var clicks []click
	for _, f := range files {
		clicks = append(clicks, readClicks(t, f)...)
	}
	if len(clicks) == 0 {
		t.Fatalf("no clicks in %v", files)
	}
	// Each file is in session order; the replay is in time order.
	slices.SortStableFunc(clicks, func(a, b click) int { return cmpFloat(a.at, b.at) })
	products := sessionsCatalog(clicks)
	events := sessionEvents(clicks, float64(end.Add(-time.Hour).Unix())-clicks[len(clicks)-1].at)
	slices.SortStableFunc(events, func(a, b SessionEvent) int { return a.At.Compare(b.At) })
	return products, events
}

// InsertSessionEvents stores events for site as ingest would.
func InsertSessionEvents(t testing.TB, db *chdb.DB, site string, events []SessionEvent) {
	t.Helper()
	b, err := db.PrepareBatch(context.Background(), `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id,
		product_id, quantity, items.product_id, items.sku, items.category, items.price, items.quantity)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		ip, is, ic, ipr, iq := []string{}, []string{}, []string{}, []float64{}, []uint32{}
		for _, p := range e.Items {
			ip, is, ic, ipr, iq = append(ip, p), append(is, ""), append(ic, ""), append(ipr, 0), append(iq, e.Quantity)
		}
		pid := e.Product
		if pid == "" && len(e.Items) > 0 {
			pid = e.Items[0]
		}
		if err := b.Append(site, e.ID, e.At, e.At, e.Type, e.Visitor, pid, e.Quantity, ip, is, ic, ipr, iq); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

// click is one line of a YooChoose session file.
type click struct {
	session, item string
	at            float64 // Unix seconds
}

func readClicks(t testing.TB, file string) []click {
	t.Helper()
	root, err := chserver.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "..", "shared", "data", "yoochoose-100k", file)
	f, err := os.Open(path)
	if err != nil {
		if os.Getenv("CI") == "" && os.IsNotExist(err) {
			t.Skipf("no real sessions here: %v", err)
		}
		t.Fatal(err)
	}
	defer f.Close()
	var out []click
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Split(sc.Text(), "\t")
		if n == 1 || len(fields) != 3 {
			continue // the header
		}
		at, err := strconv.ParseFloat(fields[2], 64)
		if err != nil {
			t.Fatalf("%s line %d: %v", path, n, err)
		}
		out = append(out, click{fields[0], fields[1], at})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// hashOf is a stable number per id, for what the data lacks.
func hashOf(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

func sessionsCatalog(clicks []click) []catalog.Product {
	seen := map[string]bool{}
	var out []catalog.Product
	for _, c := range clicks {
		if seen[c.item] {
			continue
		}
		seen[c.item] = true
		h := hashOf(c.item)
		if h%37 == 0 {
			continue
		}
		availability := catalog.InStock
		if h%23 == 0 {
			availability = catalog.OutOfStock
		}
		out = append(out, catalog.Product{ID: c.item, Title: "Item " + c.item, Category: fmt.Sprintf("Dept %d > Kind %d", h%6, h%31),
			Price: float64(5+h%400) + 0.99, Currency: "USD", Availability: availability, Condition: "new",
			Link: "https://shop.example/p/" + c.item})
	}
	return out
}

// sessionEvents turns time-ordered clicks into events, shifted by shift
// seconds.
func sessionEvents(clicks []click, shift float64) []SessionEvent {
	at := func(sec float64) time.Time { return time.Unix(int64(sec+shift), 0).UTC() }
	lastOf := map[string]int{}
	prevOf := map[string]string{}
	for i, c := range clicks {
		lastOf[c.session] = i
	}
	var out []SessionEvent
	for i, c := range clicks {
		vid := "s" + c.session
		out = append(out, SessionEvent{ID: uuid.New(), At: at(c.at), Type: "product_view", Visitor: vid, Product: c.item, Quantity: 1})
		h := hashOf(c.session)
		if lastOf[c.session] == i && h%5 == 0 {
			out = append(out, SessionEvent{ID: uuid.New(), At: at(c.at + 60), Type: "add_to_cart", Visitor: vid, Product: c.item, Quantity: 1})
			if h%3 == 0 {
				order := SessionEvent{ID: uuid.New(), At: at(c.at + 120), Type: "purchase", Visitor: vid, Product: c.item, Quantity: 2}
				if prev := prevOf[c.session]; prev != "" && prev != c.item && h%7 == 0 {
					order.Product, order.Items = "", []string{c.item, prev}
				}
				out = append(out, order)
			}
		}
		prevOf[c.session] = c.item
	}
	return out
}

// ReplaceCatalog makes ps site's whole catalog, as an import does:
// products left out are removed.
func ReplaceCatalog(t testing.TB, db *chdb.DB, site string, ps ...catalog.Product) {
	t.Helper()
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, p := range ps {
		row := map[string]any{"id": p.ID, "title": p.Title, "category": p.Category, "price": p.Price, "currency": p.Currency,
			"availability": p.Availability, "condition": p.Condition, "link": p.Link}
		if err := enc.Encode(row); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := catalog.NewStore(db, nil).Import(context.Background(), site, &body, catalog.ImportOptions{Format: catalog.JSONL, Source: "test"})
	if err != nil || rep.Imported != len(ps) {
		t.Fatalf("import %d products: %+v %v", len(ps), rep, err)
	}
}
