package feeds_test

import (
	"context"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// The catalog and segment engine own these views. Feed tests are about
// the feeds, so they pin the inputs: in the test's own database each view
// is replaced by a table of its contract shape (contracts.md), which
// tests fill directly. Until the owners' migrations exist there is
// nothing to replace.
var contractShapes = map[string]string{
	"v_products": `site String, product_id String, title String, description String, link String,
		image_link String, price Float64, currency String, availability String, condition String,
		brand String, gtin String, mpn String, category String, google_product_category String,
		item_group_id String, stock_quantity Int64, launch_date Date, tags Array(String),
		margin Float64, complements Array(String), upgrades Array(String), version UInt64,
		availability_date DateTime`,
	"v_current_runs": `site String, run_id String, started_at DateTime, finished_at DateTime,
		status String, as_of DateTime`,
	"v_audience_sizes_by_run": `site String, audience String, run_id String, run_time DateTime, size UInt64`,
	"v_audience_members_by_run": `site String, audience String, run_id String, visitor_id String, user_id String,
		email_sha256 String, stage String, customer_type String, trigger_time DateTime, opted_out UInt8,
		grp String`,
	"v_audience_products_by_run": `site String, audience String, run_id String, product_id String, anchor_id String,
		strategy String, reason String, motivation String, score Float64, rank UInt32, members UInt64`,
}

// fixture writes contract-shaped rows for tests.
type fixture struct {
	t  testing.TB
	db *chdb.DB
}

func newFixture(t testing.TB, db *chdb.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	for name, cols := range contractShapes {
		if err := db.Exec(ctx, "DROP TABLE IF EXISTS "+name); err != nil {
			t.Fatalf("drop view %s: %v", name, err)
		}
		if err := db.Exec(ctx, "CREATE TABLE "+name+" ("+cols+") ENGINE = Memory"); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	return &fixture{t: t, db: db}
}

// product is a catalog row; zero fields get usable defaults in add.
type product struct {
	ID, Title, Description, Link, Image string
	Price                               float64
	Currency, Availability, Condition   string
	Brand, GTIN, MPN, Category, GroupID string
	AvailabilityDate                    time.Time
}

func (f *fixture) products(site string, ps ...product) {
	f.t.Helper()
	ctx := context.Background()
	b, err := f.db.PrepareBatch(ctx, `INSERT INTO v_products (site, product_id, title, description, link, image_link, price,
		currency, availability, condition, brand, gtin, mpn, category, google_product_category, item_group_id,
		stock_quantity, launch_date, tags, margin, complements, upgrades, version, availability_date)`)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, p := range ps {
		avail := p.AvailabilityDate
		if avail.IsZero() {
			avail = time.Unix(0, 0)
		}
		if err := b.Append(site, p.ID, p.Title, p.Description, p.Link, p.Image, p.Price, p.Currency, p.Availability,
			p.Condition, p.Brand, p.GTIN, p.MPN, p.Category, "", p.GroupID, int64(5), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
			[]string{}, 0.0, []string{}, []string{}, uint64(1), avail); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		f.t.Fatal(err)
	}
}

// run records a complete current run of site with one audience.
func (f *fixture) run(site, runID string, finished time.Time, audience string, size int) {
	f.t.Helper()
	ctx := context.Background()
	if err := f.db.InsertRow(ctx, "INSERT INTO v_current_runs (site, run_id, started_at, finished_at, status, as_of)",
		site, runID, finished.Add(-time.Minute), finished, "ok", finished.Add(-time.Minute)); err != nil {
		f.t.Fatal(err)
	}
	f.audience(site, runID, finished, audience, size)
}

func (f *fixture) audience(site, runID string, at time.Time, audience string, size int) {
	f.t.Helper()
	if err := f.db.InsertRow(context.Background(), "INSERT INTO v_audience_sizes_by_run (site, audience, run_id, run_time, size)",
		site, audience, runID, at, uint64(size)); err != nil {
		f.t.Fatal(err)
	}
}

// listed is one entry of an audience's product list.
type listed struct {
	Product, Anchor, Strategy, Reason, Motivation string
	Rank                                          uint32
}

func (f *fixture) list(site, runID, audience string, ls ...listed) {
	f.t.Helper()
	ctx := context.Background()
	b, err := f.db.PrepareBatch(ctx, `INSERT INTO v_audience_products_by_run (site, audience, run_id, product_id, anchor_id,
		strategy, reason, motivation, score, rank, members)`)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, l := range ls {
		if err := b.Append(site, audience, runID, l.Product, l.Anchor, l.Strategy, l.Reason, l.Motivation, 1.0, l.Rank, uint64(3)); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		f.t.Fatal(err)
	}
}

// member is one row of v_audience_members_by_run.
type member struct {
	Visitor, User, EmailSHA string
	OptedOut                uint8
	Group                   string // treatment when empty
}

func (f *fixture) members(site, runID, audience string, ms ...member) {
	f.t.Helper()
	ctx := context.Background()
	b, err := f.db.PrepareBatch(ctx, `INSERT INTO v_audience_members_by_run (site, audience, run_id, visitor_id, user_id,
		email_sha256, stage, customer_type, trigger_time, opted_out, grp)`)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, m := range ms {
		if m.Group == "" {
			m.Group = "treatment"
		}
		if err := b.Append(site, audience, runID, m.Visitor, m.User, m.EmailSHA, "carted", "consumer", time.Now().UTC(), m.OptedOut, m.Group); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		f.t.Fatal(err)
	}
}

// catalogSwitch makes version the site's current catalog, switched at
// at, as the catalog store records it once all rows are written (the
// rows themselves go into the v_products fixture through products).
func (f *fixture) catalogSwitch(site string, version uint64, at time.Time) {
	f.t.Helper()
	if err := f.db.InsertRow(context.Background(), `INSERT INTO catalog_versions (site, version, created_at, switch_seq,
		source, format, rows, skipped)`, site, version, at.UTC(), uint64(at.UnixNano()), "fixture", "csv", uint64(1), uint64(0)); err != nil {
		f.t.Fatal(err)
	}
}
