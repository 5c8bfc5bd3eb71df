package catalog

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// productColumns is the column list of catalog_products, in Append order:
// written (last) is 1 for the rows a write sends itself.
const productColumns = "site, version, " + productColumnsAfterVersion + ", written"

const productColumnsAfterVersion = "product_id, title, description, link, image_link, price, currency, " +
	"availability, condition, brand, gtin, mpn, category, google_product_category, item_group_id, " +
	"stock_quantity, launch_date, tags, margin, complements, upgrades, availability_date"

// writer sends one version's rows in batches of Store.BatchRows.
type writer struct {
	s       *Store
	site    string
	version uint64
	batch   driver.Batch
	pending int
	bytes   int    // text held by the pending rows
	rows    uint64 // rows written to the version so far
	sent    bool   // some batch reached ClickHouse (so abort must drop it)

	// What catalog_versions records of the version (sql/100_catalog_write_history.sql).
	whole   bool   // an import: it replaces the whole catalog
	covers  uint64 // switch_seq of the version an upsert or a fold was made from
	written uint64 // products the write sent itself
	seq     uint64 // its switch_seq, once commit chose it
}

func (s *Store) newWriter(site string, version uint64) *writer {
	return &writer{s: s, site: site, version: version, whole: true}
}

func (w *writer) add(ctx context.Context, p Product) error {
	if w.batch == nil {
		b, err := w.s.db.PrepareBatch(ctx, "INSERT INTO catalog_products ("+productColumns+")")
		if err != nil {
			return fmt.Errorf("cannot start catalog insert: %w", err)
		}
		w.batch = b
	}
	err := w.batch.Append(w.site, w.version, p.ID, p.Title, p.Description, p.Link, p.ImageLink,
		p.Price, p.Currency, p.Availability, p.Condition, p.Brand, p.GTIN, p.MPN, p.Category,
		p.GoogleProductCategory, p.ItemGroupID, p.StockQuantity, launchDate(p), nonNil(p.Tags),
		p.Margin, nonNil(p.Complements), nonNil(p.Upgrades), orEpoch(p.AvailabilityDate), uint8(1))
	if err != nil {
		return fmt.Errorf("cannot add product %q to the catalog insert: %w", p.ID, err)
	}
	w.pending++
	w.rows++
	w.bytes += rowBytes(p)
	if w.pending >= max(w.s.BatchRows, 1) || (w.s.BatchBytes > 0 && w.bytes >= w.s.BatchBytes) {
		return w.flush(ctx)
	}
	return nil
}

// rowBytes is about what a product takes in a batch: its text.
func rowBytes(p Product) int {
	n := 64 + len(p.ID) + len(p.Title) + len(p.Description) + len(p.Link) + len(p.ImageLink) +
		len(p.Currency) + len(p.Availability) + len(p.Condition) + len(p.Brand) + len(p.GTIN) + len(p.MPN) +
		len(p.Category) + len(p.GoogleProductCategory) + len(p.ItemGroupID)
	for _, list := range [][]string{p.Tags, p.Complements, p.Upgrades} {
		for _, s := range list {
			n += 8 + len(s)
		}
	}
	return n
}

func (w *writer) flush(ctx context.Context) error {
	if w.batch == nil {
		return nil
	}
	b := w.batch
	w.batch, w.pending, w.bytes = nil, 0, 0
	w.sent = true // a failed Send may still have written part of the block
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert catalog rows: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

func (w *writer) discard() {
	if w.batch != nil {
		w.batch.Abort()
		w.batch = nil
	}
}

func launchDate(p Product) any { return orEpoch(p.LaunchDate) }

// orEpoch is how ClickHouse stores an unknown date.
func orEpoch(t time.Time) time.Time {
	if t.IsZero() {
		return epoch
	}
	return t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Select list for reading products back (v_products column names).
var productSelect = strings.Join([]string{
	"product_id", "title", "description", "link", "image_link", "price", "currency",
	"availability", "condition", "brand", "gtin", "mpn", "category", "google_product_category",
	"item_group_id", "stock_quantity", "launch_date", "tags", "margin", "complements", "upgrades",
	"availability_date",
}, ", ")
