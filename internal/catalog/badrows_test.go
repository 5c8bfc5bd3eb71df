package catalog_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chtest"
)

// badRow is one row that must be skipped, with where and why.
type badRow struct {
	line    int
	id      string
	field   string
	message string // substring of the reported message
}

func TestBadRowsAreReportedAndSkipped(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	const header = "id,title,link,image_link,price,currency,availability,condition,launch_date,stock_quantity,margin\n"
	for _, tc := range []struct {
		name   string
		format string
		body   string
		good   []string // ids that import
		bad    []badRow
	}{
		{
			name:   "csv",
			format: "csv",
			body: header +
				"OK-1,Fine,https://s.example/1,,10.00,EUR,in_stock,new,2024-01-31,3,0.2\n" + // line 2
				",No id,,,10,EUR,,,,,\n" + // 3
				"P-ABC,Bad price,,,abc,EUR,,,,,\n" + // 4
				"P-NEG,Negative,,,-5,EUR,,,,,\n" + // 5
				"P-CUR,Bad currency,,,5,XYZ,,,,,\n" + // 6
				"P-URL,Bad link,ftp://s.example/x,,5,EUR,,,,,\n" + // 7
				"P-IMG,Relative image,,/img/x.jpg,5,EUR,,,,,\n" + // 8
				"OK-1,Duplicate,,,5,EUR,,,,,\n" + // 9
				"P-AV,Bad availability,,,5,EUR,maybe,,,,\n" + // 10
				"P-CO,Bad condition,,,5,EUR,,broken,,,\n" + // 11
				"P-DATE,Bad date,,,5,EUR,,,2023-13-45,,\n" + // 12
				"P-QTY,Bad stock,,,5,EUR,,,,lots,\n" + // 13
				"P-MAR,Bad margin,,,5,EUR,,,,,250\n" + // 14
				"P-FEW,Too few fields,,,5\n" + // 15
				"OK-2,\"Two-line\ntitle\",,,\"7 USD\",,\"in stock\",used,,,25%\n" + // 16-17
				"P-TWO,Two reasons,,,,,,,,,\n" + // 18: no price, no currency
				"OK-3,Last,https://s.example/3,https://s.example/3.jpg,0,JPY,preorder,refurbished,,0,\n", // 19
			good: []string{"OK-1", "OK-2", "OK-3"},
			bad: []badRow{
				{3, "", "id", "id is missing"},
				{4, "P-ABC", "price", "not a number"},
				{5, "P-NEG", "price", "negative"},
				{6, "P-CUR", "currency", `unknown currency "XYZ"`},
				{7, "P-URL", "link", "not an absolute http(s) URL"},
				{8, "P-IMG", "image_link", "not an absolute http(s) URL"},
				{9, "OK-1", "id", "duplicate id \"OK-1\" (first on line 2)"},
				{10, "P-AV", "availability", "unknown availability"},
				{11, "P-CO", "condition", "unknown condition"},
				{12, "P-DATE", "launch_date", "not a date"},
				{13, "P-QTY", "stock_quantity", "not a whole number"},
				{14, "P-MAR", "margin", "out of range"},
				{15, "P-FEW", "", "row has 5 fields, the header has 11"},
				{18, "P-TWO", "price", "price is missing"},
			},
		},
		{
			name:   "jsonl",
			format: "jsonl",
			body: `{"id":"OK-1","price":10,"currency":"EUR","tags":["New","new"," overstock "]}` + "\n" + // 1
				"\n" + // 2 blank
				`{"id":"P-JSON","price":10,` + "\n" + // 3
				`{"id":"P-OBJ","price":{"amount":10},"currency":"EUR"}` + "\n" + // 4
				`{"id":"P-CUR","price":"10.00 EUR","currency":"USD"}` + "\n" + // 5
				`{"id":"OK-2","price":"10.00 EUR","link":"https://s.example/2","complements":"OK-1|OK-2"}` + "\n" + // 6
				`{"id":"P-LIST","price":1,"currency":"EUR","upgrades":{"a":1}}` + "\n" + // 7
				`{"id":"P-NEG","price":-0.01,"currency":"EUR"}`, // 8, no final newline
			good: []string{"OK-1", "OK-2"},
			bad: []badRow{
				{3, "", "", "invalid JSON"},
				{4, "P-OBJ", "price", "price: want a string or a number"},
				{5, "P-CUR", "currency", "disagrees"},
				{7, "P-LIST", "upgrades", "want a list of strings"},
				{8, "P-NEG", "price", "negative"},
			},
		},
		{
			name:   "xml",
			format: "xml",
			body: `<?xml version="1.0"?>
<rss xmlns:g="http://base.google.com/ns/1.0"><channel>
<item><g:id>OK-1</g:id><g:price>15.00 USD</g:price><g:availability>in stock</g:availability></item>
<item>
  <g:id>P-PRICE</g:id><g:price>fifteen USD</g:price>
</item>
<item><g:id>P-AV</g:id><g:price>15.00 USD</g:price><g:availability>soon</g:availability></item>
<item><g:id>OK-2</g:id><g:price>1500 JPY</g:price><link>https://s.example/2?a=1&amp;b=2</link></item>
<item><g:price>1 USD</g:price></item>
<item
  xml:lang="en"><g:id>P-TAG</g:id><g:price>fifteen</g:price></item>
</channel></rss>`,
			good: []string{"OK-1", "OK-2"},
			bad: []badRow{
				{4, "P-PRICE", "price", "not a number"},
				{7, "P-AV", "availability", "unknown availability"},
				{9, "", "id", "id is missing"},
				{10, "P-TAG", "price", "not a number"}, // the line where the <item tag starts
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := "bad-" + tc.name
			rep, err := importString(t, s, site, tc.body)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if rep.Format != tc.format {
				t.Errorf("detected format %q, want %q", rep.Format, tc.format)
			}
			if rep.Imported != len(tc.good) || rep.Skipped != len(tc.bad) {
				t.Errorf("imported %d, skipped %d; want %d and %d", rep.Imported, rep.Skipped, len(tc.good), len(tc.bad))
			}
			for _, want := range tc.bad {
				if !reported(rep.Errors, want) {
					t.Errorf("no error %+v in report:\n%s", want, describe(rep.Errors))
				}
			}
			if got := currentIDs(t, db, site); !reflect.DeepEqual(got, tc.good) {
				t.Errorf("v_products = %v, want %v", got, tc.good)
			}
		})
	}
}

func reported(errs []catalog.RowError, want badRow) bool {
	for _, e := range errs {
		if e.Line == want.line && e.ID == want.id && e.Field == want.field && strings.Contains(e.Message, want.message) {
			return true
		}
	}
	return false
}

func describe(errs []catalog.RowError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  line %d item %d id %q field %q: %s\n", e.Line, e.Item, e.ID, e.Field, e.Message)
	}
	return b.String()
}

func TestListFieldsAreCleaned(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	if _, err := importString(t, s, "shop", `{"id":"A","price":1,"currency":"EUR","tags":["New","new"," overstock ",""],"complements":"A|B| B |C","category":"Cameras>Mirrorless >"}`+"\n"); err != nil {
		t.Fatal(err)
	}
	p := currentProducts(t, db, "shop")[0]
	if !reflect.DeepEqual(p.Tags, []string{"new", "overstock"}) || !reflect.DeepEqual(p.Complements, []string{"B", "C"}) || p.Category != "Cameras > Mirrorless" {
		t.Errorf("tags %q, complements %q, category %q; want [new overstock], [B C] (self dropped), \"Cameras > Mirrorless\"", p.Tags, p.Complements, p.Category)
	}
}

func TestUnknownColumnsAreWarnings(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	rep, err := importString(t, s, "shop", "id,price,currency,sale_price,Colour\nA,1,EUR,0.5,red\n")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 1 || len(rep.Warnings) != 1 || rep.Warnings[0].Line != 1 ||
		!strings.Contains(rep.Warnings[0].Message, `"sale_price", "colour"`) {
		t.Errorf("report %+v: want 1 imported and one line-1 warning naming sale_price and colour", rep)
	}
}

func TestFatalInputErrors(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	for _, tc := range []struct{ name, body, want string }{
		{"empty", "  \n", "empty"},
		{"no id column", "title,price\nA,1\n", "no id column"},
		// A delimiter it does not know, or Excel's "sep=;" line above the
		// header: the error shows the row it read as the header.
		{"pipe separated", "id|price|currency\nA|1|EUR\n", `no id column: the first row reads "id|price|currency"`},
		{"sep line", "sep=;\nid;price;currency\nA;1;EUR\n", `no id column: the first row reads "sep=;"`},
		{"duplicate column", "id,price,price\nA,1,2\n", `"price" appears twice`},
		{"json array", `[{"id":"A"}]`, "JSON lines"},
		{"broken xml", "<rss><channel><item><g:id>A</g:id>", "malformed XML"},
		// Entities a DTD declares are never expanded: no billion laughs,
		// no file read through an external entity.
		{"xml entity bomb", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>A</g:id><title>&b;</title><g:price>1 EUR</g:price></item></channel></rss>`, "invalid character entity &b;"},
		{"xml external entity", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>A</g:id><title>&x;</title><g:price>1 EUR</g:price></item></channel></rss>`, "invalid character entity &x;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importString(t, s, "shop", tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if v, err := s.CurrentVersion(t.Context(), "shop"); err != nil || v != 0 {
		t.Errorf("a fatal input error produced version %d (%v)", v, err)
	}
}

// TestNumbersMustBeDecimal: Go's number parsers take hexadecimal floats,
// digit separators and Inf; a catalog row with one is a bad row.
func TestNumbersMustBeDecimal(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	rep, err := importString(t, s, "shop", "id,price,currency,margin\n"+
		"OK,1e3,EUR,0.25\n"+ // line 2
		"HEX,0x1p10,EUR,\n"+ // 3
		"SEP,1_000,EUR,\n"+ // 4
		"INF,Inf,EUR,\n"+ // 5
		"HEXCUR,0x10 USD,,\n"+ // 6
		"MARGIN,5,EUR,0x1p-2\n") // 7
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []badRow{
		{3, "HEX", "price", "not a number"}, {4, "SEP", "price", "not a number"}, {5, "INF", "price", "not a number"},
		{6, "HEXCUR", "price", "not a number"}, {7, "MARGIN", "margin", "not a number"},
	} {
		if !reported(rep.Errors, want) {
			t.Errorf("no error %+v in report:\n%s", want, describe(rep.Errors))
		}
	}
	if got := currentIDs(t, db, "shop"); !reflect.DeepEqual(got, []string{"OK"}) {
		t.Errorf("v_products = %v, want [OK]", got)
	}
}

// TestBidiControlsAreStripped: a title such as "Canon<U+202E>gpj.exe" displays
// reversed in feeds and the dashboard; catalog text keeps no
// bidirectional controls, and an id with one is a bad row.
func TestBidiControlsAreStripped(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	ctl := "\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\u200E\u200F\u061C"
	rep, err := importString(t, s, "shop", `{"id":"A","title":"Canon`+ctl+`gpj.exe","description":"x`+ctl+`","brand":"B`+ctl+`","category":"Cameras `+ctl+`> DSLR","price":1,"currency":"EUR","tags":["new`+ctl+`"]}`+"\n"+
		`{"id":"B`+ctl+`","title":"t","price":1,"currency":"EUR"}`+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if !reported(rep.Errors, badRow{2, "B" + ctl, "id", "invalid characters"}) && !reported(rep.Errors, badRow{2, "B", "id", "invalid characters"}) {
		t.Errorf("an id with bidi controls was not a bad row:\n%s", describe(rep.Errors))
	}
	ps := currentProducts(t, db, "shop")
	if len(ps) != 1 {
		t.Fatalf("imported %d products, want 1", len(ps))
	}
	p := ps[0]
	if p.Title != "Canongpj.exe" || p.Description != "x" || p.Brand != "B" || p.Category != "Cameras > DSLR" || !reflect.DeepEqual(p.Tags, []string{"new"}) {
		t.Errorf("stored title %q, description %q, brand %q, category %q, tags %q", p.Title, p.Description, p.Brand, p.Category, p.Tags)
	}
}

// TestUnclosedQuoteFailsTheImport: encoding/csv reads a quoted field to the
// next quote or the end of the file, so one missing closing quote would
// turn the rows after it into one bad field; the import fails instead,
// naming the span, and the previous catalog stays.
func TestUnclosedQuoteFailsTheImport(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	catalogCSV := func(rowAt func(i int) string) string {
		var b strings.Builder
		b.WriteString("id,title,price,currency\n")
		for i := 1; i <= 100; i++ {
			b.WriteString(rowAt(i))
		}
		return b.String()
	}
	plain := func(i int) string { return fmt.Sprintf("P%03d,Item %d,10,EUR\n", i, i) }
	if _, err := importString(t, s, "shop", catalogCSV(plain)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"to the end of the file", catalogCSV(func(i int) string {
			if i == 3 {
				return "P003,\"Item 3,10,EUR\n" // line 4: the quote is never closed
			}
			return plain(i)
		}), "starts on line 4 runs to the end of the file"},
		{"to a later quote", catalogCSV(func(i int) string {
			switch i {
			case 3:
				return "P003,\"Item 3,10,EUR\n" // line 4
			case 9:
				return "P009,\"Item 9\",10,EUR\n" // line 10: its first quote closes line 4's
			}
			return plain(i)
		}), "starts on line 4 runs to line 10"},
		{"record too long", "id,title,price,currency\nA,\"" + strings.Repeat("x", 5<<20) + "\n", "longer than 4194304 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importString(t, s, "shop", tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
			if ids := currentIDs(t, db, "shop"); len(ids) != 100 {
				t.Errorf("v_products has %d products after the failed import, want the previous 100", len(ids))
			}
		})
	}
}

// TestDatesMustFitClickHouse: launch_date is a ClickHouse Date
// (1970-01-01 to 2149-06-06), and the client wraps a date outside it round
// to another, plausible one; such a date, or a date-time whose time part
// is not one, is a bad row, in a file and through the API.
// availability_date (a DateTime) says "out of range" the same way.
func TestDatesMustFitClickHouse(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	row := func(id, date string) string {
		return fmt.Sprintf(`{"id":%q,"price":1,"currency":"EUR","launch_date":%q}`+"\n", id, date)
	}
	rep, err := importString(t, s, "shop", row("OLD", "1900-01-01")+ // line 1
		row("TYPO", "1019-04-10")+ // 2
		row("FAR", "2200-01-01")+ // 3
		row("JUNK", "2024-05-01Tnonsense")+ // 4
		row("FIRST", "1970-01-01")+ // 5
		row("LAST", "2149-06-06")+ // 6
		row("STAMP", "2024-05-01T23:30:00-0500")+ // 7: keeps the date as written
		`{"id":"AVAIL","price":1,"currency":"EUR","availability_date":"2200-01-01"}`+"\n") // 8
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []badRow{
		{1, "OLD", "launch_date", "out of range"}, {2, "TYPO", "launch_date", "out of range"},
		{3, "FAR", "launch_date", "out of range"}, {4, "JUNK", "launch_date", "not a date"},
		{8, "AVAIL", "availability_date", "out of range"},
	} {
		if !reported(rep.Errors, want) {
			t.Errorf("no error %+v in report:\n%s", want, describe(rep.Errors))
		}
	}
	stored := map[string]string{}
	for _, p := range currentProducts(t, db, "shop") {
		stored[p.ID] = p.LaunchDate.Format(time.DateOnly)
	}
	if want := map[string]string{"FIRST": "1970-01-01", "LAST": "2149-06-06", "STAMP": "2024-05-01"}; !reflect.DeepEqual(stored, want) {
		t.Errorf("stored launch dates %v, want %v", stored, want)
	}

	var answer struct{ Report catalog.Report }
	h := newAPI(t, db)
	code := call(t, h, "PUT", "/api/sites/shop/products", adminToken, `{"id":"OLD","price":1,"currency":"EUR","launch_date":"1900-01-01"}`, &answer)
	if code != http.StatusBadRequest || !reported(answer.Report.Errors, badRow{0, "OLD", "launch_date", "out of range"}) {
		t.Errorf("API upsert of launch_date 1900-01-01 = %d %+v, want 400 naming launch_date", code, answer.Report)
	}
}

// TestTextMustBeUTF8: a Latin-1 file would be stored as bytes feeds drop
// (CSV) or with U+FFFD for its letters (JSON lines); such a row is a bad
// row naming the field, and a UTF-16 file (Excel's "Unicode Text") is
// refused as a whole, naming its encoding.
func TestTextMustBeUTF8(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	for _, tc := range []struct {
		name, body string
		bad        []badRow
	}{
		{"csv", "id,title,price,currency,tags\n" +
			"A,Caf\xe9 cr\xe8me,1,EUR,\n" + // line 2
			"B,Fine,1,EUR,new|caf\xe9\n" + // 3
			"OK,Café crème,1,EUR,\n", // 4
			[]badRow{{2, "A", "title", "title is not UTF-8"}, {3, "B", "tags", "tags is not UTF-8"}}},
		{"jsonl", "{\"id\":\"A\",\"title\":\"Caf\xe9 cr\xe8me\",\"price\":1,\"currency\":\"EUR\"}\n" +
			"{\"id\":\"OK\",\"title\":\"Café crème\",\"price\":1,\"currency\":\"EUR\"}\n",
			[]badRow{{1, "A", "title", "title is not UTF-8"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site := "enc-" + tc.name
			rep, err := importString(t, s, site, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.bad {
				if !reported(rep.Errors, want) {
					t.Errorf("no error %+v in report:\n%s", want, describe(rep.Errors))
				}
			}
			if ps := currentProducts(t, db, site); len(ps) != 1 || ps[0].ID != "OK" || ps[0].Title != "Café crème" {
				t.Errorf("stored %+v, want only OK titled \"Café crème\"", ps)
			}
		})
	}
	// An XML feed says its encoding in its declaration; one that does not
	// and is not UTF-8 is malformed, and the import fails saying what to do.
	const item = "<item><g:id>A</g:id><title>Caf\xe9</title><g:price>1 EUR</g:price></item>"
	rss := func(decl string) string {
		return "<?xml version=\"1.0\"" + decl + "?>\n<rss xmlns:g=\"http://base.google.com/ns/1.0\"><channel>\n" + item + "\n</channel></rss>\n"
	}
	if _, err := importString(t, s, "enc-xml", rss(` encoding="windows-1252"`)); err != nil {
		t.Fatalf("a feed declaring windows-1252: %v", err)
	}
	_, err := importString(t, s, "enc-xml", rss(""))
	if err == nil || !strings.Contains(err.Error(), "line 3 is not UTF-8") || !strings.Contains(err.Error(), `encoding="ISO-8859-1"`) {
		t.Errorf("a Latin-1 feed with no encoding declared: err = %v, want it to name line 3 and say how to declare the encoding", err)
	}
	if ps := currentProducts(t, db, "enc-xml"); len(ps) != 1 || ps[0].Title != "Café" {
		t.Errorf("stored %+v, want the windows-1252 feed's product titled Café", ps)
	}

	text := "id\ttitle\tprice\tcurrency\r\nA\tCamera\t10\tEUR\r\n"
	le, be := []byte{0xff, 0xfe}, []byte{0xfe, 0xff}
	for _, r := range text {
		le, be = append(le, byte(r), 0), append(be, 0, byte(r))
	}
	for name, body := range map[string][]byte{"UTF-16LE": le, "UTF-16BE": be} {
		_, err := importString(t, s, "enc-utf16", string(body))
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "save it as UTF-8") {
			t.Errorf("%s file: err = %v, want it to name the encoding and say to save as UTF-8", name, err)
		}
	}
}

// TestRepeatedJSONKeysAreRefused: encoding/json keeps the last of two
// values for one key (matched without regard to case), so a product
// written with "price" twice, or "id" and "ID", would be stored with a
// value the sender may not have meant. Such a row is skipped naming the
// field, in a JSON lines file and in an upsert.
func TestRepeatedJSONKeysAreRefused(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	rep, err := importString(t, s, "dupkeys",
		`{"id":"A","price":"1","price":"100","currency":"EUR"}`+"\n"+ // 1
			`{"id":"B","ID":"C","price":1,"currency":"EUR"}`+"\n"+ // 2
			`{"id":"OK","price":3,"currency":"EUR","colour":"red","colour":"blue"}`+"\n") // 3: ignored key, harmless
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []badRow{{1, "A", "price", `"price" appears twice`}, {2, "", "id", `"ID" appears twice`}} {
		if !reported(rep.Errors, want) {
			t.Errorf("no error %+v in report:\n%s", want, describe(rep.Errors))
		}
	}
	if got := currentIDs(t, db, "dupkeys"); !reflect.DeepEqual(got, []string{"OK"}) {
		t.Errorf("v_products = %v, want only OK", got)
	}

	var answer struct {
		Error  string
		Report catalog.Report
	}
	h := newAPI(t, db)
	code := call(t, h, "PUT", "/api/sites/shop/products", adminToken, `{"id":"A","price":1,"currency":"EUR","Price":1000}`, &answer)
	if code != http.StatusBadRequest || !reported(answer.Report.Errors, badRow{0, "A", "price", `"Price" appears twice`}) {
		t.Errorf("upsert with price twice = %d %+v, want 400 naming price", code, answer)
	}
}

// TestCSVWithCarriageReturnLineEnds: Excel for Mac's "CSV (Macintosh)"
// ends lines with a carriage return alone. encoding/csv only ends a line
// at a line feed, so such a file read as one header row of every cell and
// imported nothing. Its rows import, with their line numbers.
func TestCSVWithCarriageReturnLineEnds(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	rep, err := importString(t, s, "mac",
		"id,title,price,currency\r"+ // 1
			"A,Camera,10,EUR\r"+ // 2
			"B,\"Two\rlines\",5,EUR\r"+ // 3-4
			"C,Bad price,x,EUR\r"+ // 5
			"D,Last,7,EUR") // 6
	if err != nil {
		t.Fatalf("import: %v (report %+v)", err, rep)
	}
	if rep.Imported != 3 || rep.Skipped != 1 || !reported(rep.Errors, badRow{5, "C", "price", "not a number"}) {
		t.Errorf("report = %+v, want 3 imported and C skipped on line 5:\n%s", rep, describe(rep.Errors))
	}
	ps := currentProducts(t, db, "mac")
	if len(ps) != 3 || ps[1].ID != "B" || ps[1].Title != "Two\nlines" || ps[2].ID != "D" || ps[2].Price != 7 {
		t.Errorf("stored %+v, want A, B titled \"Two\\nlines\" and D at 7", ps)
	}
}

// TestXMLItemOverLimitFailsTheImport: a CSV record and a JSON line are
// bounded; an XML item was not, so one huge element (or a CDATA section
// never closed) was held in memory whole. An item, or anything between
// items, over 4 MiB fails the import naming it; a feed of many items
// adding up to more is fine.
func TestXMLItemOverLimitFailsTheImport(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	feed := func(descriptions ...string) string {
		var b strings.Builder
		b.WriteString(`<?xml version="1.0"?>` + "\n" + `<rss xmlns:g="http://base.google.com/ns/1.0"><channel>` + "\n")
		for i, d := range descriptions {
			fmt.Fprintf(&b, "<item><g:id>P%d</g:id><g:price>1 EUR</g:price><description>%s</description></item>\n", i+1, d)
		}
		b.WriteString("</channel></rss>\n")
		return b.String()
	}
	big := strings.Repeat("x", 2<<20)
	if rep, err := importString(t, s, "xmlbig", feed(big, big, big)); err != nil || rep.Imported != 3 {
		t.Fatalf("three items of 2 MiB: %+v %v, want all imported", rep, err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"item", feed("short", strings.Repeat("x", 5<<20)), "item 2 (line 4) is longer than 4194304 bytes"},
		{"unclosed CDATA", feed("short", "<![CDATA["+strings.Repeat("x", 5<<20)), "item 2 (line 4) is longer than 4194304 bytes"},
		{"between items", strings.Replace(feed("short"), "<channel>", "<channel><title>"+strings.Repeat("x", 5<<20)+"</title>", 1), "longer than 4194304 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importString(t, s, "xmlbig", tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
			if ids := currentIDs(t, db, "xmlbig"); len(ids) != 3 {
				t.Errorf("v_products has %v after the failed import, want the previous 3", ids)
			}
		})
	}
}
