package segment_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
)

// A feed reads the site's current run once (feeds remember it for a
// second) and then its rows by run id. A feed that read it just before a
// switch must still be the whole feed of that run, not an empty one an ad
// platform would take for "every product is gone": even with keep_runs
// at 1, the run just replaced keeps its rows.
func TestAFeedStartedBeforeASwitchIsWhole(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	withImages(t, db)
	cfg := incrementalConfig(t)
	cfg.Segments.KeepRuns = 1
	e := incrementalEngine(t, db, cfg)
	insertStored(t, db, traffic(rand.New(rand.NewPCG(17, 6)), names("v", 0, 40), 400, now.Add(-72*time.Hour), now)...)
	old := incRun(t, e, now, false, segment.ModeFull)
	runcheck.PinFinish(t, db, site, old.RunID, now)
	current := incRun(t, e, now.Add(time.Minute), false, segment.ModeIncremental)
	runcheck.PinFinish(t, db, site, current.RunID, now)

	// The pointer moves back to the old run and forth again, a switch
	// each time.
	point := func(run string) {
		if err := db.InsertRow(ctx, "INSERT INTO seg_current (site, run_id, switched)", site, run, uint64(time.Now().UnixNano())); err != nil {
			t.Fatal(err)
		}
	}
	var items int
	for audience, size := range old.Sizes {
		if size == 0 {
			continue
		}
		for name, format := range feeds.Formats {
			point(old.RunID)
			api := feedAPI(t, cfg, db, now) // a new one: it remembers the current run for a second
			before := export(t, api, audience, format)
			point(current.RunID) // a second later, at most, this feed still reads the old run
			after := export(t, api, audience, format)
			items += before.items
			if name == "feed.json" && !strings.Contains(after.body, old.RunID) {
				t.Fatalf("%s/%s right after the switch came from another run than the one read before it (did it take over a second?)", audience, name)
			}
			if after.body != before.body {
				t.Errorf("%s/%s of run %s: %d items before the switch, %d right after it", audience, name, old.RunID, before.items, after.items)
			}
		}
	}
	if items == 0 {
		t.Fatal("no feed had an item: the test shows nothing")
	}
}

type exported struct {
	body  string
	items int
}

// export writes one feed as `remarket feed export` does.
func export(t *testing.T, api *feeds.API, audience string, f feeds.Format) exported {
	t.Helper()
	var b bytes.Buffer
	st, err := api.Export(context.Background(), &b, site, audience, f)
	if err != nil {
		t.Fatalf("feed %s: %v", audience, err)
	}
	return exported{b.String(), st.Items}
}

// Feeds serve only a current run recorded finished. A run is recorded so
// before its switch, so a feed fetched right after the switch, while the
// run still drops its work rows, is the new run's, not a 503 saying the
// site has no complete run.
func TestAFeedFetchedRightAfterASwitchIsServed(t *testing.T) {
	db := chtest.MustOpen(t)
	withImages(t, db)
	cfg := incrementalConfig(t)
	e := incrementalEngine(t, db, cfg)
	insertStored(t, db, traffic(rand.New(rand.NewPCG(17, 7)), names("v", 0, 40), 400, now.Add(-72*time.Hour), now)...)
	first := incRun(t, e, now, false, segment.ModeFull)
	audience := ""
	for a, size := range first.Sizes {
		if size > first.Sizes[audience] || size == first.Sizes[audience] && a < audience {
			audience = a
		}
	}
	api := feedAPI(t, cfg, db, now.Add(time.Hour)) // after the run finished, by its clock
	var got exported
	e.SetAfterSwitch(func() { got = export(t, api, audience, feeds.Formats["feed.json"]) })
	second := incRun(t, e, now.Add(time.Minute), false, segment.ModeIncremental)
	if !strings.Contains(got.body, second.RunID) || got.items == 0 {
		t.Errorf("%s/feed.json right after the switch to %s has %d items, from another run:\n%.300s", audience, second.RunID, got.items, got.body)
	}
}

// withImages stores incrementalCatalog's products with an image each, as
// feeds require of an item.
func withImages(t *testing.T, db *chdb.DB) {
	t.Helper()
	products := incrementalProducts()
	for i := range products {
		products[i].ImageLink = "https://shop.example/img/" + products[i].ID + ".jpg"
	}
	putProducts(t, db, products...)
}
