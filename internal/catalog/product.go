// Package catalog is a site's product catalog: parsers for the formats shops
// already have (CSV, JSON lines, a Google Merchant XML feed), per-row
// validation that reports bad rows by line number, and a versioned store in
// ClickHouse where every import or upsert writes a complete new version and
// then switches a per-site pointer, so readers (v_products) only ever see a
// whole catalog.
package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Product is one catalog row, as stored in ClickHouse and shown by v_products.
type Product struct {
	ID                    string    `json:"id"`
	Title                 string    `json:"title"`
	Description           string    `json:"description"`
	Link                  string    `json:"link"`
	ImageLink             string    `json:"image_link"`
	Price                 float64   `json:"price"`
	Currency              string    `json:"currency"`
	Availability          string    `json:"availability"` // in_stock, out_of_stock, preorder or backorder
	Condition             string    `json:"condition"`    // new, refurbished or used
	Brand                 string    `json:"brand"`
	GTIN                  string    `json:"gtin"`
	MPN                   string    `json:"mpn"`
	Category              string    `json:"category"` // path "Cameras > Mirrorless"
	GoogleProductCategory string    `json:"google_product_category"`
	ItemGroupID           string    `json:"item_group_id"`
	StockQuantity         int64     `json:"stock_quantity"` // 0 when unknown: availability is authoritative
	LaunchDate            time.Time `json:"launch_date"`    // zero (1970-01-01 in ClickHouse) when unknown
	Tags                  []string  `json:"tags"`
	Margin                float64   `json:"margin"` // fraction of the price (0.25 = 25 %), 0 when unknown
	Complements           []string  `json:"complements"`
	Upgrades              []string  `json:"upgrades"`
	// AvailabilityDate is when a preorder or backorder item becomes
	// available (zero, 1970-01-01 in ClickHouse, when unknown). Google
	// requires it for those two availabilities; feeds leave such items
	// out without it.
	AvailabilityDate time.Time `json:"availability_date"`
}

// Availability values, in Google Merchant's spelling with underscores.
const (
	InStock    = "in_stock"
	OutOfStock = "out_of_stock"
	Preorder   = "preorder"
	Backorder  = "backorder"
)

// Fields are the column names of the CSV format and the keys of the JSON
// one, in the order of the contract. Parsers and the store share this list.
var Fields = []string{
	"id", "title", "description", "link", "image_link", "price", "currency",
	"availability", "condition", "brand", "gtin", "mpn", "category",
	"google_product_category", "item_group_id", "stock_quantity",
	"launch_date", "tags", "margin", "complements", "upgrades",
	"availability_date",
}

// epoch is what ClickHouse stores for an unknown launch date.
var epoch = time.Unix(0, 0).UTC()

// known reports whether t is a date rather than the "unknown" zero.
func known(t time.Time) bool { return !t.IsZero() && !t.Equal(epoch) }

// MarshalJSON writes launch_date as the import formats spell it
// (YYYY-MM-DD, "" when unknown) rather than as a timestamp, and
// availability_date as RFC 3339 in UTC ("" when unknown).
func (p Product) MarshalJSON() ([]byte, error) {
	type plain Product // drops the method, keeps the tags
	date, avail := "", ""
	if known(p.LaunchDate) {
		date = p.LaunchDate.Format(time.DateOnly)
	}
	if known(p.AvailabilityDate) {
		avail = p.AvailabilityDate.UTC().Format(time.RFC3339)
	}
	return json.Marshal(struct {
		plain
		LaunchDate       string `json:"launch_date"`
		AvailabilityDate string `json:"availability_date"`
	}{plain(p), date, avail})
}

// UnmarshalJSON reads what MarshalJSON writes (and RFC 3339 times).
func (p *Product) UnmarshalJSON(b []byte) error {
	type plain Product
	var v struct {
		*plain
		LaunchDate       string `json:"launch_date"`
		AvailabilityDate string `json:"availability_date"`
	}
	v.plain = (*plain)(p)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.LaunchDate = epoch
	if v.LaunchDate != "" {
		d, msg := parseDate(v.LaunchDate)
		if msg != "" {
			return errors.New(msg)
		}
		p.LaunchDate = d
	}
	p.AvailabilityDate = epoch
	if v.AvailabilityDate != "" {
		d, err := parseDateTime(v.AvailabilityDate)
		if err != nil {
			return fmt.Errorf("availability_date %q: want YYYY-MM-DD or YYYY-MM-DDThh:mm with an offset", v.AvailabilityDate)
		}
		p.AvailabilityDate = d
	}
	return nil
}
