package segment_test

import (
	"testing"
	"time"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
)

// On real sessions (YooChoose: 53,000 clicks of 13,600 sessions on 2,900
// items, with carts, orders, prices and categories added: runcheck.Sessions),
// incremental runs chained on each other show users exactly what a full
// run on the same events shows: every row of every view, every pair sum
// and every feed. The synthetic histories have a dozen products; these
// have real co-occurrence, long tails and sessions that span two runs.
func TestIncrementalRunsEqualFullRunsOnRealSessions(t *testing.T) {
	if underRace {
		// The runs' concurrency is the same as in the other tests of
		// incremental runs, which do run under the detector; reading
		// 300,000 rows under it took 150 s instead of 32.
		t.Skip("equality on real data: run without -race")
	}
	products, events := runcheck.Sessions(t, now, "train.tsv")
	db := chtest.MustOpen(t)
	replaceCatalog(t, db, products...)
	cfg := incrementalConfig(t)
	e := incrementalEngine(t, db, cfg)

	// The first 90% of the events are the history; the runs after it
	// take the next 0.1%, 1% and 3% of them, then a catalog change with
	// about 1% more.
	cut := func(share float64) int { return int(share * float64(len(events))) }
	first := cut(0.90)
	runcheck.InsertSessionEvents(t, db, site, events[:first])
	time.Sleep(time.Second) // insert times are seconds: the run must start after them
	at := events[first-1].At.Add(time.Second)
	started := time.Now()
	incRun(t, e, at, false, segment.ModeFull)
	t.Logf("first run in %s", time.Since(started).Round(time.Millisecond))

	var last segment.RunResult
	from := first
	run := func(to int) {
		runcheck.InsertSessionEvents(t, db, site, events[from:to])
		from = to
		at = events[to-1].At.Add(time.Second)
		started := time.Now()
		last = incRun(t, e, at, false, segment.ModeIncremental)
		t.Logf("%s: %d events, %d visitors recomputed in %s", at.Format(time.DateTime), to, last.Affected, time.Since(started).Round(time.Millisecond))
	}
	compare := func() {
		got := readRun(t, cfg, db, last, at)
		started := time.Now()
		full := incRun(t, e, at, true, segment.ModeFull)
		t.Logf("full run in %s", time.Since(started).Round(time.Millisecond))
		want := readRun(t, cfg, db, full, at)
		runcheck.Compare(t, got, want)
	}
	run(first + cut(0.001))
	run(from + cut(0.01))
	run(from + cut(0.03))
	compare()

	// The shop reprices one product in 50, moves one in 60 to another
	// category and removes one in 200; the next hour brings 1% more.
	var changed []catalog.Product
	for i, p := range products {
		switch {
		case i%200 == 7:
			continue
		case i%50 == 3:
			p.Price += 100
		case i%60 == 5:
			p.Category = "Dept 9 > Moved"
		}
		changed = append(changed, p)
	}
	replaceCatalog(t, db, changed...)
	run(from + cut(0.01))
	compare()
}
