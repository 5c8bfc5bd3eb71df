package feeds

import (
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
