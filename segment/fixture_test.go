package segment_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// now is the pinned clock of every test: decay and windows are exact.
var now = time.Date(2024, 5, 20, 12, 0, 0, 0, time.UTC)

const site = "shop"

// testConfig is a one-site config with the default segment settings and
// the given YAML audiences.
func testConfig(t testing.TB, audiences ...config.Audience) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Sites = []config.Site{{ID: site, WriteKey: "wk_shop", AdminToken: "admin-token-0123456789", FeedToken: "feed-token-0123456789"}}
	cfg.Sites[0].Audiences = audiences
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newEngine(t testing.TB, db *chdb.DB, cfg config.Config) *segment.Engine {
	t.Helper()
	e := segment.New(cfg, db, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	e.Now = func() time.Time { return now }
	return e
}

// ev is one hand-made event; ago is measured back from now.
type ev struct {
	vid      string
	ago      time.Duration
	typ      string
	pid      string
	qty      uint32
	items    []string // order lines (purchase of several products)
	optedOut bool
	bot      bool
	traits   string
	category string
	uid      string
}

const day = 24 * time.Hour

func insertEvents(t *testing.T, db *chdb.DB, evs ...ev) {
	t.Helper()
	out := make([]stored, len(evs))
	for i, e := range evs {
		out[i] = stored{id: uuid.New(), at: now.Add(-e.ago), ev: e}
	}
	insertStored(t, db, out...)
}

// stored is an event with its id and time given, so a test can send one
// again (a retry) or date it anywhere.
type stored struct {
	id uuid.UUID
	at time.Time
	ev
}

func insertStored(t *testing.T, db *chdb.DB, evs ...stored) {
	t.Helper()
	insertStoredFor(t, db, site, evs...)
}

// insertStoredFor inserts events of another site than the tests' own.
func insertStoredFor(t *testing.T, db *chdb.DB, siteID string, evs ...stored) {
	t.Helper()
	b, err := db.PrepareBatch(context.Background(), `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id,
		product_id, category, quantity, items.product_id, items.sku, items.category, items.price, items.quantity,
		is_bot, opted_out, traits)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		ip, is, ic, ipr, iq := []string{}, []string{}, []string{}, []float64{}, []uint32{}
		for _, p := range e.items {
			ip, is, ic, ipr, iq = append(ip, p), append(is, ""), append(ic, ""), append(ipr, 0), append(iq, max(e.qty, 1))
		}
		pid := e.pid
		if pid == "" && len(e.items) > 0 {
			pid = e.items[0]
		}
		if err := b.Append(siteID, e.id, e.at, e.at, e.typ, e.vid, e.uid, pid, e.category, e.qty,
			ip, is, ic, ipr, iq, b2u(e.bot), b2u(e.optedOut), e.traits); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// product is a catalog row for fixtures.
func product(id, title, category string, price float64, opts ...func(*catalog.Product)) catalog.Product {
	p := catalog.Product{ID: id, Title: title, Category: category, Price: price, Currency: "USD",
		Availability: catalog.InStock, Condition: "new", Link: "https://shop.example/p/" + id}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func outOfStock(p *catalog.Product) { p.Availability = catalog.OutOfStock }

// variantOf puts a product in an item group: variants of one item.
func variantOf(group string) func(*catalog.Product) {
	return func(p *catalog.Product) { p.ItemGroupID = group }
}

func putProducts(t *testing.T, db *chdb.DB, ps ...catalog.Product) {
	t.Helper()
	if _, err := catalog.NewStore(db, nil).Upsert(context.Background(), site, ps, "test"); err != nil {
		t.Fatal(err)
	}
}

// replaceCatalog makes ps the site's whole catalog, as an import does:
// products left out are removed.
func replaceCatalog(t *testing.T, db *chdb.DB, ps ...catalog.Product) {
	t.Helper()
	runcheck.ReplaceCatalog(t, db, site, ps...)
}

func run(t *testing.T, e *segment.Engine) segment.RunResult {
	t.Helper()
	res, err := e.Run(context.Background(), site, segment.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// strings1 runs a one-column string query.
func strings1(t *testing.T, db *chdb.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func timeD(i int) time.Duration { return time.Duration(i) }

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
