package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/remarket/remarket/internal/chdb"
)

// CurrentVersion is the version v_products shows for site (0: no catalog).
func (s *Store) CurrentVersion(ctx context.Context, site string) (uint64, error) {
	v, _, err := CurrentSwitch(ctx, s.db, site)
	return v, err
}

// CurrentSwitch is the version v_products shows for site and the
// switch_seq that made it current, read by the key of catalog_versions (a
// row per import or upsert, not per product) with v_products' own argMax:
// of two switches recorded with the same switch_seq, the higher version.
// Zeros (argMax over no rows) mean the site has no catalog.
func CurrentSwitch(ctx context.Context, db *chdb.DB, site string) (version, switchSeq uint64, err error) {
	err = db.QueryRow(ctx, "SELECT argMax(version, (switch_seq, version)), max(switch_seq) FROM catalog_versions WHERE site = ?", site).
		Scan(&version, &switchSeq)
	if err != nil {
		return 0, 0, fmt.Errorf("cannot read the current catalog version of %q: %w", site, err)
	}
	return version, switchSeq, nil
}

// Get returns a product of the site's current catalog.
func (s *Store) Get(ctx context.Context, site, id string) (Product, bool, error) {
	rows, err := s.db.Query(ctx, "SELECT "+productSelect+" FROM v_products WHERE site = ? AND product_id = ? LIMIT 1", site, id)
	if err != nil {
		return Product{}, false, err
	}
	ps, err := scanProducts(rows)
	if err != nil || len(ps) == 0 {
		return Product{}, false, err
	}
	return ps[0], true, nil
}

// Page is a slice of the current catalog, ordered by product id.
type Page struct {
	Version  uint64    `json:"version"`
	Total    uint64    `json:"total"`
	Products []Product `json:"products"`
}

// List pages through the site's current catalog.
func (s *Store) List(ctx context.Context, site string, limit, offset int) (Page, error) {
	page := Page{Products: []Product{}}
	version, err := s.CurrentVersion(ctx, site)
	if err != nil || version == 0 {
		return page, err
	}
	page.Version = version
	// The version is pinned so the count and the page agree even if a new
	// version becomes current between the two queries.
	err = s.db.QueryRow(ctx, "SELECT count() FROM catalog_products WHERE site = ? AND version = ?", site, version).Scan(&page.Total)
	if err != nil {
		return page, err
	}
	rows, err := s.db.Query(ctx, "SELECT "+productSelect+` FROM catalog_products
WHERE site = ? AND version = ? ORDER BY product_id LIMIT ?, ?`, site, version, uint64(offset), uint64(limit))
	if err != nil {
		return page, err
	}
	page.Products, err = scanProducts(rows)
	return page, err
}

func scanProducts(rows driver.Rows) ([]Product, error) {
	defer rows.Close()
	out := []Product{}
	for rows.Next() {
		var p Product
		if err := rows.Scan(&p.ID, &p.Title, &p.Description, &p.Link, &p.ImageLink, &p.Price, &p.Currency,
			&p.Availability, &p.Condition, &p.Brand, &p.GTIN, &p.MPN, &p.Category, &p.GoogleProductCategory,
			&p.ItemGroupID, &p.StockQuantity, &p.LaunchDate, &p.Tags, &p.Margin, &p.Complements, &p.Upgrades, &p.AvailabilityDate); err != nil {
			return nil, err
		}
		p.LaunchDate, p.AvailabilityDate = p.LaunchDate.UTC(), p.AvailabilityDate.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// Version is one completed catalog version (v_catalog_versions).
type Version struct {
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	Source    string    `json:"source"`
	Format    string    `json:"format"`
	Rows      uint64    `json:"rows"`
	Skipped   uint64    `json:"skipped"`
	Current   bool      `json:"current"`
}

// Versions lists the site's catalog history, newest first.
func (s *Store) Versions(ctx context.Context, site string, limit int) ([]Version, error) {
	rows, err := s.db.Query(ctx, `SELECT version, created_at, source, format, rows, skipped, is_current
FROM v_catalog_versions WHERE site = ? LIMIT ?`, site, uint64(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Version{}
	for rows.Next() {
		var v Version
		var current uint8
		if err := rows.Scan(&v.Version, &v.CreatedAt, &v.Source, &v.Format, &v.Rows, &v.Skipped, &current); err != nil {
			return nil, err
		}
		v.Current = current == 1
		out = append(out, v)
	}
	return out, rows.Err()
}
