// Package demo is remarket's showroom: a bundled catalog of a believable
// shop and a simulator that sends months of shoppers through the real
// collection endpoints, so that every built-in audience and discount rule
// has members on a fresh install.
package demo

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// catalogCSV is the demo shop in the catalog CSV format (contracts.md).
// Its launch and availability dates are written as of CatalogAsOf;
// CatalogCSV moves them so that "new" products stay new and the preorder
// lens stays ahead of its release whenever the demo runs.
//
//go:embed catalog.csv
var catalogCSV []byte

// CatalogAsOf is the day the launch dates in catalog.csv are relative to.
var CatalogAsOf = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// CatalogCSV returns the demo catalog with launch and availability dates
// shifted by the whole days between CatalogAsOf and now.
func CatalogCSV(now time.Time) []byte {
	shift := now.UTC().Truncate(24 * time.Hour).Sub(CatalogAsOf)
	r := csv.NewReader(bytes.NewReader(catalogCSV))
	rows, err := r.ReadAll()
	if err != nil {
		panic(fmt.Sprintf("demo: embedded catalog.csv: %v", err)) // caught by tests
	}
	cols := index(rows[0])
	for _, row := range rows[1:] {
		for _, col := range []int{cols["launch_date"], cols["availability_date"]} {
			if d, err := time.Parse(time.DateOnly, row[col]); err == nil {
				row[col] = d.Add(shift).Format(time.DateOnly)
			}
		}
	}
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	w.WriteAll(rows) // writes to a buffer cannot fail
	return out.Bytes()
}

// Product is what the simulator needs to know of a catalog row.
type Product struct {
	ID, Title, Brand, Category, Link, Currency string
	Price                                      float64
	InStock                                    bool
	Tags, Complements, Upgrades                []string
	Professional                               bool
}

// Root is the first level of the product's category path ("Cameras").
func (p Product) Root() string { r, _, _ := strings.Cut(p.Category, " > "); return r }

// Catalog is the parsed demo catalog.
type Catalog struct {
	Products []Product
	ByID     map[string]*Product
}

// LoadCatalog parses the embedded catalog.
func LoadCatalog() (*Catalog, error) {
	return parseCatalog(bytes.NewReader(catalogCSV))
}

func parseCatalog(r io.Reader) (*Catalog, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("demo catalog: %w", err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("demo catalog: no products")
	}
	col := index(rows[0])
	list := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, "|")
	}
	c := &Catalog{ByID: map[string]*Product{}}
	for i, row := range rows[1:] {
		price, err := strconv.ParseFloat(row[col["price"]], 64)
		if err != nil {
			return nil, fmt.Errorf("demo catalog line %d: price: %w", i+2, err)
		}
		p := Product{
			ID: row[col["id"]], Title: row[col["title"]], Brand: row[col["brand"]],
			Category: row[col["category"]], Link: row[col["link"]], Currency: row[col["currency"]],
			Price: price, InStock: row[col["availability"]] == "in_stock",
			Tags: list(row[col["tags"]]), Complements: list(row[col["complements"]]), Upgrades: list(row[col["upgrades"]]),
		}
		p.Professional = strings.Contains(p.Category, "> Professional >")
		c.Products = append(c.Products, p)
	}
	for i := range c.Products {
		c.ByID[c.Products[i].ID] = &c.Products[i]
	}
	return c, nil
}

func index(header []string) map[string]int {
	m := make(map[string]int, len(header))
	for i, h := range header {
		m[h] = i
	}
	return m
}
