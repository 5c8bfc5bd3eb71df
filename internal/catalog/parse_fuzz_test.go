package catalog_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"math"
	"os"
	"testing"

	"github.com/remarket/remarket/internal/catalog"
)

// fuzzDecode runs a decoder over data and checks what every parser must
// guarantee: it ends, rows are numbered in order with a line, and a row
// that validates is a product the store can take.
func fuzzDecode(t *testing.T, data []byte, f catalog.Format) {
	dec, _, err := catalog.NewDecoder(bytes.NewReader(data), f)
	if err != nil {
		return
	}
	for i := 1; ; i++ {
		if i > len(data)+2 {
			t.Fatalf("decoder returned %d rows from %d bytes: it does not progress", i, len(data))
		}
		rec, err := dec.Next()
		if err != nil {
			if err == io.EOF {
				return
			}
			return // fatal for the file: fine, as long as it says so
		}
		if rec.Item != i || rec.Line < 1 {
			t.Fatalf("row %d came back as item %d on line %d", i, rec.Item, rec.Line)
		}
		if rec.Err != nil {
			if rec.Err.Line != rec.Line || rec.Err.Message == "" {
				t.Fatalf("row error %+v does not say where and why (row on line %d)", rec.Err, rec.Line)
			}
			continue
		}
		p, errs := rec.Validate()
		for _, e := range errs {
			if e.Line != rec.Line || e.Field == "" || e.Message == "" {
				t.Fatalf("validation error %+v does not name line and field", e)
			}
		}
		if len(errs) > 0 {
			continue
		}
		if _, ok := catalog.CurrencyDecimals(p.Currency); !ok || p.ID == "" || p.Price < 0 || math.IsNaN(p.Price) || math.IsInf(p.Price, 0) {
			t.Fatalf("accepted an invalid product %+v", p)
		}
		switch p.Availability {
		case catalog.InStock, catalog.OutOfStock, catalog.Preorder, catalog.Backorder:
		default:
			t.Fatalf("accepted availability %q", p.Availability)
		}
	}
}

func addFile(f *testing.F, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
}

func FuzzCSV(f *testing.F) {
	addFile(f, "testdata/cameras.csv")
	for _, s := range []string{
		"id,price,currency\nA,1,EUR\n",
		"id;price;currency\r\nA;1.5;EUR\r\n",
		"id\tprice\nA\t2 USD\n",
		"\xef\xbb\xbfid,price\n\"A\"\"\",\"3\nUSD\"\n",
		"id,price\n\"unterminated,1\n",
		"id,price\nA,1,extra\nB\n",
		"id,tags,complements\nA,a|b||c,A|B\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, data, catalog.CSV) })
}

func FuzzJSONL(f *testing.F) {
	addFile(f, "testdata/cameras.jsonl")
	for _, s := range []string{
		`{"id":"A","price":1,"currency":"EUR"}`,
		"{\"id\":\"A\",\"price\":\"1 EUR\"}\n\n{\"id\":2,\"price\":1e400}\n",
		`{"id":"A","tags":"a|b","upgrades":[1,"x",null]}`,
		`{"id":"A","price":{"x":1}}` + "\n{",
		`{"id":"A"} {"id":"B"}`,
		`{"id":"A","unknown":[[[]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, data, catalog.JSONL) })
}

func FuzzXML(f *testing.F) {
	addFile(f, "testdata/cameras.xml")
	addFile(f, "testdata/cameras-atom.xml")
	for _, s := range []string{
		`<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>A</g:id><g:price>1 USD</g:price></item></channel></rss>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><rss><item><id>A</id><price>1 EUR</price><title>Caf` + "\xe9" + `</title></item></rss>`,
		`<feed><entry><link href="https://s.example/a" rel="alternate"/><g:id xmlns:g="http://base.google.com/ns/1.0">A</g:id></entry></feed>`,
		`<rss><item><g:id>A</g:id><item><g:id>B</g:id></item></item>`,
		`<rss><item>&nbsp;<description>&eacute;&bogus;</description></item></rss>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, data, catalog.XML) })
}

// FuzzCSVRoundTrip writes a row with encoding/csv and reads it back: any
// text that fits a CSV cell must come back as it went in (trimmed).
func FuzzCSVRoundTrip(f *testing.F) {
	f.Add("CAN-250D", "Canon EOS 250D, \"body\"\nonly", "overstock|new")
	f.Add(" x ", "", "")
	f.Fuzz(func(t *testing.T, id, title, tags string) {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write([]string{"id", "title", "price", "currency", "tags"})
		w.Write([]string{id, title, "1.00", "EUR", tags})
		w.Flush()
		dec, _, err := catalog.NewDecoder(&buf, catalog.CSV)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := dec.Next()
		if err != nil || rec.Err != nil {
			return // e.g. a cell with a bare \r: encoding/csv cannot round-trip it
		}
		if rec.Values[0] != id && !bytes.ContainsAny([]byte(id+title+tags), "\r") {
			t.Fatalf("id %q came back as %q", id, rec.Values[0])
		}
	})
}
