package feeds

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/config"
)

// offerSite is a site that can sign offers.
func offerSite() config.Site {
	return config.Site{ID: "s", SiteFeeds: config.SiteFeeds{OfferKeys: []config.OfferKey{{ID: "k", Secret: "0123456789abcdef0123456789abcdef"}}}}
}

// itemBuilder builds items of one feed, without discount rules.
func itemBuilder() *Builder {
	return &Builder{Site: offerSite(), Audience: "a", Now: time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC), OfferParam: "rm_offer"}
}

// validRow is a row every format accepts as it is.
func validRow(id string) Row {
	return Row{ProductID: id, Title: "Lens " + id, Link: "https://shop.example/" + id, Image: "https://cdn.example/" + id + ".jpg",
		Price: 10, Currency: "USD"}
}

// TestBuildTakesIDsDifferingInCaseForOneProduct: Google reads ids that
// differ only in case as the same product, so one feed holds the first
// and counts the others as duplicates.
func TestBuildTakesIDsDifferingInCaseForOneProduct(t *testing.T) {
	b := itemBuilder()
	var got []string
	for _, id := range []string{"abc123", "ABC123", "Abc123", "abc124", "ÄBC123", "äbc123"} {
		row := validRow(id)
		it, skip := b.Build(&row)
		got = append(got, id+":"+it.ID+":"+skip)
	}
	want := []string{"abc123:abc123:", "ABC123:ABC123:" + SkipDuplicate, "Abc123:Abc123:" + SkipDuplicate,
		"abc124:abc124:", "ÄBC123:ÄBC123:", "äbc123:äbc123:" + SkipDuplicate}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("id %d: %s, want %s", i, got[i], want[i])
		}
	}
}

// TestBuildLeavesOutAvailabilityDatesBeyondAYear: Google takes an
// availability_date "up to 1 year in the future"; the year counts from
// the run's finish, so a feed generated later shows the same items.
func TestBuildLeavesOutAvailabilityDatesBeyondAYear(t *testing.T) {
	run := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		now, date time.Time
		skip      string
	}{
		{"a year after the run", run.Add(time.Hour), run.AddDate(1, 0, 0), ""},
		{"a minute more", run.Add(time.Hour), run.AddDate(1, 0, 0).Add(time.Minute), SkipFarAvailabilityDate},
		{"within a year of now, not of the run", run.AddDate(0, 1, 0), run.AddDate(1, 0, 1), SkipFarAvailabilityDate},
		{"next month", run.Add(time.Hour), run.AddDate(0, 1, 0), ""},
	} {
		b := itemBuilder()
		b.Now, b.RunFinished = c.now, run
		row := validRow("pre")
		row.Availability, row.AvailabilityDate = "preorder", c.date
		if _, skip := b.Build(&row); skip != c.skip {
			t.Errorf("%s: skip %q, want %q", c.name, skip, c.skip)
		}
	}
	// Without a run (a builder of its own) the year counts from now.
	b := itemBuilder()
	row := validRow("back")
	row.Availability, row.AvailabilityDate = "backorder", b.Now.AddDate(1, 0, 1)
	if _, skip := b.Build(&row); skip != SkipFarAvailabilityDate {
		t.Errorf("backorder a year and a day ahead: skip %q", skip)
	}
}

// TestBuildLeavesOutIDsCleaningWouldChange: an id is written exactly as
// the catalog has it, or left out as bad_id; cleaning it would make it an
// id purchases and the pixel never send, or one another product has.
func TestBuildLeavesOutIDsCleaningWouldChange(t *testing.T) {
	b := itemBuilder()
	for _, c := range []struct {
		id   string
		skip string
	}{
		{"SKU 12", ""},
		{"SKU  12", SkipBadID},      // two spaces would become "SKU 12", the id above
		{"SKU\u00a012", SkipBadID},  // a no-break space
		{"SKU\ufffe12", SkipBadID},  // a noncharacter XML does not allow
		{"SKU\u2028-13", SkipBadID}, // a line separator
		{" SKU-14", SkipBadID},      // surrounding space
		{"SKU\xff-15", SkipBadID},   // invalid UTF-8
		{"SKU\u202e-16", SkipBadID}, // a bidi override
		{"Ärmel-12", ""},            // non-ASCII letters are kept
		{"商品-12", ""},
	} {
		row := validRow(c.id)
		it, skip := b.Build(&row)
		if skip != c.skip || (skip == "" && it.ID != c.id) {
			t.Errorf("id %+q: written as %+q, skip %q; want skip %q", c.id, it.ID, skip, c.skip)
		}
	}
}

// TestBuildNeverCutsIdentifiers: gtin, mpn and item_group_id are written
// exactly or left out, never cut with an ellipsis (a cut group id can
// merge two variant groups), and the item stays in the feed either way.
func TestBuildNeverCutsIdentifiers(t *testing.T) {
	long := func(prefix string, n int) string { return prefix + strings.Repeat("9", n-len(prefix)) }
	cases := []struct {
		name                       string
		gtin, mpn, group           string
		wantGTIN, wantMPN, wantGrp string
	}{
		{"as the catalog has them", "0012345678905", "EOS-90D", "eos-90d",
			"0012345678905", "EOS-90D", "eos-90d"},
		{"at their limits", "12345678901234", long("M", 70), long("group-", 50),
			"12345678901234", long("M", 70), long("group-", 50)},
		{"too long", "123456789012345", long("M", 71), long("group-", 51), "", "", ""},
		{"changed by cleaning", "12345678", "EOS  90D", "eos\u00a090d", "12345678", "", ""},
		{"gtin-12", "123456789012", "", "", "123456789012", "", ""},
		{"gtin of another length", "1234567890", "", "", "", "", ""},
		{"gtin not all digits", "0012-45678905", "", "", "", "", ""},
	}
	for _, c := range cases {
		row := validRow("p")
		row.GTIN, row.MPN, row.GroupID = c.gtin, c.mpn, c.group
		it, skip := itemBuilder().Build(&row)
		if skip != "" || it.GTIN != c.wantGTIN || it.MPN != c.wantMPN || it.GroupID != c.wantGrp {
			t.Errorf("%s: gtin %q mpn %q item_group_id %q (skip %q); want %q %q %q",
				c.name, it.GTIN, it.MPN, it.GroupID, skip, c.wantGTIN, c.wantMPN, c.wantGrp)
		}
	}
}

// TestGoogleClaimsNoIdentifiersOnlyWithoutThem: identifier_exists "no"
// says the product has no GTIN or MPN; one the catalog has but the feed
// leaves out does not make that true.
func TestGoogleClaimsNoIdentifiersOnlyWithoutThem(t *testing.T) {
	for _, c := range []struct {
		gtin, mpn string
		claim     bool
	}{
		{"", "", true},
		{"0012345678905", "", false},
		{"123", "", false},                   // left out: not a GTIN
		{"", strings.Repeat("M", 71), false}, // left out: too long
	} {
		row := validRow("p")
		row.GTIN, row.MPN = c.gtin, c.mpn
		it, skip := itemBuilder().Build(&row)
		if skip != "" {
			t.Fatal(skip)
		}
		var buf bytes.Buffer
		w := &GoogleWriter{w: bufio.NewWriter(&buf)}
		if err := w.Item(&it); err != nil {
			t.Fatal(err)
		}
		w.w.Flush()
		if got := strings.Contains(buf.String(), "<g:identifier_exists>no</g:identifier_exists>"); got != c.claim {
			t.Errorf("gtin %q mpn %q: identifier_exists no written %v, want %v", c.gtin, c.mpn, got, c.claim)
		}
	}
}
