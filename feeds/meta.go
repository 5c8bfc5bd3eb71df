package feeds

import (
	"bufio"
	"encoding/csv"
)

// metaColumns is the Meta catalog header; required fields first.
var metaColumns = []string{
	"id", "title", "description", "availability", "condition", "price", "link", "image_link", "brand",
	"sale_price", "sale_price_effective_date", "gtin", "mpn", "product_type", "google_product_category",
	"item_group_id", "custom_label_0", "custom_label_1", "custom_label_2", "custom_label_3", "custom_label_4",
	"availability_date",
}

// metaExact marks the columns written exactly, never neutralised as
// formulas (csvCell): the identifiers and links. Meta matches its pixel's
// content_ids, and remarket its offer tokens and the Google feed, against
// the id as the catalog has it, so "'@sku" would be another product, and
// an item_group_id, gtin or mpn changed the same way another group or
// product. The price: a person who opens meta.csv in a spreadsheet runs
// an identifier of the shop's own catalog that starts with '=', '+', '-'
// or '@' as a formula. Every free-text column (titles, descriptions,
// reasons) is still neutralised, and links always start with http.
var metaExact = func() []bool {
	exact := make([]bool, len(metaColumns))
	for i, c := range metaColumns {
		switch c {
		case "id", "item_group_id", "gtin", "mpn", "link", "image_link":
			exact[i] = true
		}
	}
	return exact
}()

// metaTime is Meta's ISO 8601 date-time: 2026-12-15T09:00+00:00.
const metaTime = "2006-01-02T15:04-07:00"

// MetaWriter writes a Meta (Facebook) catalog as RFC 4180 CSV: CRLF line
// ends, fields with commas, quotes or line breaks quoted, and every cell
// but the identifiers (metaExact) that a spreadsheet would run as a
// formula neutralised (csvCell).
type MetaWriter struct {
	w   *bufio.Writer
	csv *csv.Writer
	rec []string
}

func newMetaWriter(w *bufio.Writer) *MetaWriter {
	c := csv.NewWriter(w)
	c.UseCRLF = true
	return &MetaWriter{w: w, csv: c, rec: make([]string, len(metaColumns))}
}

func (m *MetaWriter) Begin(Header) error { return m.csv.Write(metaColumns) }

func (m *MetaWriter) Item(it *Item) error {
	r := m.rec
	r[0], r[1], r[2] = it.ID, it.Title, it.Description
	r[3], r[4], r[5] = metaAvailability(it.Availability), it.Condition, it.Price.String()
	r[6], r[7], r[8] = it.Link, it.Image, it.Brand
	r[9], r[10] = "", ""
	if it.HasSale() {
		r[9], r[10] = it.Sale.String(), it.SaleWindow.meta()
	}
	r[11], r[12], r[13], r[14], r[15] = it.GTIN, it.MPN, it.ProductType, it.GoogleCategory, it.GroupID
	copy(r[16:], it.Labels[:])
	r[21] = ""
	if !it.AvailabilityDate.IsZero() {
		r[21] = it.AvailabilityDate.Format(metaTime)
	}
	for i := range r {
		if !metaExact[i] {
			r[i] = csvCell(r[i])
		}
	}
	return m.csv.Write(r)
}

func (m *MetaWriter) End() error {
	m.csv.Flush()
	if err := m.csv.Error(); err != nil {
		return err
	}
	return m.w.Flush()
}
