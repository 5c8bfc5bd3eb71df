package segment_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/segment"
)

// BenchmarkSegmentRun generates a synthetic shop inside ClickHouse
// (20,000 products in 200 categories, 1,000,000 visitors, 10,000,000
// events at scale 1; BENCH_SEGMENTS_SCALE=0.05 for a quick try), then times
// a plain GROUP BY visitor, category scan of the events and a full segment
// run (interests, related products, every built-in audience with its
// product lists), BENCH_SEGMENTS_ROUNDS times (default 3; medians reported).
// Then, for increments of 0.01%, 0.1%, 1% and 10% of the events (new events in
// the quarter hour after the previous run, from existing and new
// visitors), and for 0.01% with 20 products repriced or 10 added since
// the previous run, it times incremental runs against the scan of the
// same round and a full run on the same events. Targets: full run ≤ 3 ×
// scan, incremental run (1%) ≤ 0.3 × scan, no query over 8 GB (the
// server profile's max_memory_usage enforces it; system.processes is
// sampled for the peak).
// BENCH_SEGMENTS_COMPARE=name=value,... pairs every run with one under
// those query settings; BENCH_SEGMENTS_SIZES=0.02,0.05 times other
// increments. Run with: make bench-segments.
func BenchmarkSegmentRun(b *testing.B) {
	scale := 1.0
	if s := os.Getenv("BENCH_SEGMENTS_SCALE"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 {
			b.Fatalf("BENCH_SEGMENTS_SCALE=%q: want a positive number", s)
		}
		scale = v
	}
	categories, perCategory := 200, 100
	if scale < 1 {
		perCategory = max(10, int(100*scale))
	}
	visitors, events := int(1_000_000*scale), int(10_000_000*scale)
	db := chtest.MustOpen(b)
	// log_queries: the steps' CPU times come from system.query_log.
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"max_memory_usage": int(8_000_000_000), "log_queries": 1}))

	t0 := time.Now()
	benchCatalog(b, db, categories, perCategory)
	if err := db.Exec(ctx, benchEventsSQL,
		clickhouse.Named("n", events), clickhouse.Named("visitors", visitors), clickhouse.Named("categories", categories),
		clickhouse.Named("per_category", perCategory), clickhouse.Named("now", now.Unix()),
		clickhouse.Named("offset", 0), clickhouse.Named("span", 90*86400)); err != nil {
		b.Fatal(err)
	}
	settleEvents(ctx, b, db)
	b.Logf("generated %d events, %d visitors, %d products in %s", events, visitors, categories*perCategory, time.Since(t0).Round(time.Millisecond))

	cfg := testConfig(b, segment.Templates()...)
	cfg.Sites[0].ID = "bench"
	// The 10% increment is timed too, past the share that makes a run full.
	cfg.Segments.IncrementalMaxNewEventsPercent = 100
	e := newEngine(b, db, cfg)
	// Events are inserted and runs started one after the other here: no
	// insert is in progress when a run starts.
	e.SetInsertMargin(0)
	rounds := chtest.PositiveEnv(b, "BENCH_SEGMENTS_ROUNDS", 3)
	// BENCH_SEGMENTS_COMPARE=name=value,... adds to each round a second
	// full run, and to each round of increments a second increment and
	// run, with those query settings: a setting is judged by pairs of
	// runs under the same load.
	var compare clickhouse.Settings
	compareEnv := os.Getenv("BENCH_SEGMENTS_COMPARE")
	if compareEnv != "" {
		compare = clickhouse.Settings{"max_memory_usage": int(8_000_000_000)}
		for _, kv := range strings.Split(compareEnv, ",") {
			name, value, ok := strings.Cut(kv, "=")
			if !ok {
				b.Fatalf("BENCH_SEGMENTS_COMPARE=%q: want name=value,...", compareEnv)
			}
			if n, err := strconv.Atoi(value); err == nil {
				compare[name] = n // old servers take numbers only as numbers
			} else {
				compare[name] = value
			}
		}
	}
	// comparedRun times a full run with the compared settings.
	comparedRun := func() time.Duration {
		other, err := e.Run(clickhouse.Context(ctx, clickhouse.WithSettings(compare)), "bench", segment.RunOptions{Full: true})
		if err != nil {
			b.Fatal(err)
		}
		return other.Took
	}
	var compared, comparedRatios []float64
	for i := 0; i < b.N; i++ {
		// Each round times the scan and then a full run right after it, so
		// a ratio compares the two under the same load; the medians are
		// the figures.
		var scans, runs, ratios []float64
		var peak int64
		for r := 0; r < rounds; r++ {
			scan := time.Now()
			var groups uint64
			if err := db.QueryRow(ctx, "SELECT count() FROM (SELECT visitor_id, category, count() FROM events GROUP BY visitor_id, category)").Scan(&groups); err != nil {
				b.Fatal(err)
			}
			scanTook := time.Since(scan)
			// The compared run goes after the timed one in odd rounds and
			// before it in even ones, so neither always meets the other's
			// merges.
			var other time.Duration
			if compare != nil && r%2 == 1 {
				other = comparedRun()
			}
			stop := samplePeakMemory(ctx, db)
			res, err := e.Run(ctx, "bench", segment.RunOptions{Full: true})
			peak = max(peak, stop())
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("round %d: scan (%d groups) %s; full run %s (%.2f× the scan)", r+1,
				groups, scanTook.Round(time.Millisecond), res.Took.Round(time.Millisecond), res.Took.Seconds()/scanTook.Seconds())
			if r == rounds-1 {
				logSteps(ctx, b, db, res)
				b.Logf("sizes: %v", res.Sizes)
			}
			scans = append(scans, scanTook.Seconds())
			runs = append(runs, res.Took.Seconds())
			ratios = append(ratios, res.Took.Seconds()/scanTook.Seconds())
			if compare != nil && r%2 == 0 {
				other = comparedRun()
			}
			if compare != nil {
				b.Logf("round %d: full run with %s %s (%.2f× the run without)", r+1, compareEnv,
					other.Round(time.Millisecond), other.Seconds()/res.Took.Seconds())
				compared = append(compared, other.Seconds())
				comparedRatios = append(comparedRatios, other.Seconds()/res.Took.Seconds())
			}
		}
		if compare != nil {
			b.Logf("with %s: median %.2f s, median ratio %.2f× the run without", compareEnv, median(compared), median(comparedRatios))
		}
		b.Logf("medians of %d rounds: scan %.2f s, run %.2f s, run/scan %.2f×; peak query memory %.0f MB",
			rounds, median(scans), median(runs), median(ratios), float64(peak)/1e6)
		b.ReportMetric(median(scans), "scan_s")
		b.ReportMetric(median(runs), "run_s")
		b.ReportMetric(median(ratios), "run/scan")
		b.ReportMetric(float64(peak)/1e6, "peak_MB")
		final := time.Now()
		var groups uint64
		if err := db.QueryRow(ctx, "SELECT count() FROM (SELECT visitor_id, category, count() FROM events FINAL GROUP BY visitor_id, category)").Scan(&groups); err != nil {
			b.Fatal(err)
		}
		b.Logf("for context, the scan over events FINAL: %s", time.Since(final).Round(time.Millisecond))

		benchIncrements(ctx, b, db, e, events, visitors, categories, perCategory, rounds, compare, compareEnv)

		if os.Getenv("BENCH_SEGMENTS_EVAL") == "1" {
			ev, err := e.Evaluate(ctx, "bench", 10)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("eval (%d visitors, %s): remarket HitRate@10 %.4f NDCG@10 %.4f coverage %.4f; most-popular %.4f %.4f %.4f",
				ev.Visitors, ev.Took.Round(time.Millisecond), ev.Model.HitRate, ev.Model.NDCG, ev.Model.Coverage,
				ev.Baseline.HitRate, ev.Baseline.NDCG, ev.Baseline.Coverage)
		}
	}
}

// benchIncrements times incremental runs after increments of 0.01%,
// 0.1%, 1% and 10% of the shop's events, each round a quarter hour after
// the previous run, against the scan of the same round and a full run
// on the same events right after it. 0.01% (1,000
// events at scale 1) is about a quarter hour of this shop's traffic (10 M
// events over 90 days): what a scheduled run meets. Visitors are drawn
// from 10% more than the shop has, so about a tenth of the new events
// come from new visitors.
func benchIncrements(ctx context.Context, b *testing.B, db *chdb.DB, e *segment.Engine, events, visitors, categories, perCategory, rounds int, compare clickhouse.Settings, compareLabel string) {
	at, offset := now, events
	// reprice changes the price of n products spread over the catalog,
	// each time by another factor: a sale starting or ending.
	sales := 0
	store := catalog.NewStore(db, nil)
	reprice := func(n int) {
		sales++
		var ps []catalog.Product
		for k := range n {
			id := fmt.Sprintf("p%d", (k*categories/n)*perCategory+perCategory/2)
			p, ok, err := store.Get(ctx, "bench", id)
			if err != nil || !ok {
				b.Fatalf("product %s: %v", id, err)
			}
			p.Price = float64(int(p.Price*(1+0.05*float64(sales))*100)) / 100
			ps = append(ps, p)
		}
		if _, err := store.Upsert(ctx, "bench", ps, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	// launch adds n products no one has seen yet, whose ids sort before
	// every other: every product's number moves.
	launches := 0
	launch := func(n int) {
		launches++
		var ps []catalog.Product
		for k := range n {
			id := fmt.Sprintf("a%03d-%02d", launches, k)
			p := product(id, "New "+id, fmt.Sprintf("Dept %d > Cat %d", k%20, k), 50)
			p.Link = "https://bench.example/p/" + id
			ps = append(ps, p)
		}
		if _, err := store.Upsert(ctx, "bench", ps, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	// increment changes the catalog as c says, inserts n new events a
	// quarter hour after the previous run, times the scan and then an
	// incremental run (with settings when they are not nil).
	increment := func(n int, c catalogChange, settings clickhouse.Settings) (scanTook time.Duration, res segment.RunResult, peak int64) {
		if c.repriced > 0 {
			reprice(c.repriced)
		}
		if c.added > 0 {
			launch(c.added)
		}
		at = at.Add(15 * time.Minute)
		if err := db.Exec(ctx, benchEventsSQL,
			clickhouse.Named("n", n), clickhouse.Named("visitors", visitors*11/10), clickhouse.Named("categories", categories),
			clickhouse.Named("per_category", perCategory), clickhouse.Named("now", at.Unix()),
			clickhouse.Named("offset", offset), clickhouse.Named("span", 15*60)); err != nil {
			b.Fatal(err)
		}
		offset += n
		time.Sleep(time.Second) // insert times are seconds: the run starts after them
		scan := time.Now()
		if err := db.Exec(ctx, "SELECT count() FROM (SELECT visitor_id, category, count() FROM events GROUP BY visitor_id, category)"); err != nil {
			b.Fatal(err)
		}
		scanTook = time.Since(scan)
		e.Now = func() time.Time { return at }
		runCtx := ctx
		if settings != nil {
			runCtx = clickhouse.Context(ctx, clickhouse.WithSettings(settings))
		}
		stop := samplePeakMemory(ctx, db)
		res, err := e.Run(runCtx, "bench", segment.RunOptions{})
		peak = stop()
		if err != nil {
			b.Fatal(err)
		}
		if res.Mode != segment.ModeIncremental {
			b.Fatalf("the run after %d new events was %s: %s", n, res.Mode, res.Reason)
		}
		return scanTook, res, peak
	}
	// Each size is timed on its own, and the smallest also with prices
	// changed since the previous run (the catalog's price bands move, and
	// the repriced products' visitors are recomputed), and with products
	// added (the copied baskets and pair sums are renumbered).
	type incrementSize struct {
		share float64
		catalogChange
	}
	sizes := []incrementSize{{0.0001, catalogChange{}}, {0.0001, catalogChange{repriced: 20}}, {0.0001, catalogChange{added: 10}}, {0.001, catalogChange{}}, {0.01, catalogChange{}}, {0.1, catalogChange{}}}
	// BENCH_SEGMENTS_SIZES=0.02,0.05 times those shares of the events
	// instead (fractions, not percents): where an incremental run stops
	// paying against a full run on the same events.
	if env := os.Getenv("BENCH_SEGMENTS_SIZES"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			share, err := strconv.ParseFloat(f, 64)
			if err != nil || share <= 0 || share > 1 {
				b.Fatalf("BENCH_SEGMENTS_SIZES=%q: want shares of the events between 0 and 1, comma-separated", env)
			}
			sizes = append(sizes, incrementSize{share: share})
		}
	}
	for _, size := range sizes {
		share := size.share
		n := int(float64(events) * share)
		label := fmt.Sprintf("+%g%%", share*100)
		if size.repriced > 0 {
			label += fmt.Sprintf(", %d products repriced", size.repriced)
		}
		if size.added > 0 {
			label += fmt.Sprintf(", %d products added", size.added)
		}
		var ratios, runs, scans, comparedRatios, fulls, fullRatios []float64
		var peak int64
		var last, full segment.RunResult
		for r := 0; r < rounds; r++ {
			// With BENCH_SEGMENTS_COMPARE each round has a second increment
			// of the same size, run with the compared settings, after the
			// timed one in odd rounds and before it in even ones.
			var other time.Duration
			if compare != nil && r%2 == 1 {
				_, o, _ := increment(n, size.catalogChange, compare)
				other = o.Took
			}
			scanTook, res, p := increment(n, size.catalogChange, nil)
			peak = max(peak, p)
			b.Logf("%s (%d events): round %d: scan %s; incremental run %s (%.2f× the scan), %d visitors recomputed",
				label, n, r+1, scanTook.Round(time.Millisecond), res.Took.Round(time.Millisecond), res.Took.Seconds()/scanTook.Seconds(), res.Affected)
			scans, runs = append(scans, scanTook.Seconds()), append(runs, res.Took.Seconds())
			ratios = append(ratios, res.Took.Seconds()/scanTook.Seconds())
			last = res
			// A full run on the same events, right after: the increments
			// are new events of the last quarter hours, so the audiences
			// that look at recent events grow round by round, and so do
			// the lists every run computes. (The next round's incremental
			// run builds on this one as it would on an incremental one:
			// their rows are the same.)
			stop := samplePeakMemory(ctx, db)
			var err error
			full, err = e.Run(ctx, "bench", segment.RunOptions{Full: true})
			stop()
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: round %d: a full run on the same events %s; the incremental run is %.2f× it",
				label, r+1, full.Took.Round(time.Millisecond), res.Took.Seconds()/full.Took.Seconds())
			fulls, fullRatios = append(fulls, full.Took.Seconds()), append(fullRatios, res.Took.Seconds()/full.Took.Seconds())
			if compare != nil && r%2 == 0 {
				_, o, _ := increment(n, size.catalogChange, compare)
				other = o.Took
			}
			if compare != nil {
				b.Logf("%s: round %d: incremental run with %s %s (%.2f× the run without)", label, r+1, compareLabel,
					other.Round(time.Millisecond), other.Seconds()/res.Took.Seconds())
				comparedRatios = append(comparedRatios, other.Seconds()/res.Took.Seconds())
			}
		}
		lastCPU := logSteps(ctx, b, db, last)
		b.Logf("%s: medians of %d rounds: scan %.2f s, incremental run %.2f s, run/scan %.2f×; peak query memory %.0f MB",
			label, rounds, median(scans), median(runs), median(ratios), float64(peak)/1e6)
		if compare != nil {
			b.Logf("%s: with %s, median ratio %.2f× the run without", label, compareLabel, median(comparedRatios))
		}
		metric := fmt.Sprintf("inc%g%%/scan", share*100)
		if size.repriced > 0 {
			metric = fmt.Sprintf("inc%g%%+%drepriced/scan", share*100, size.repriced)
		}
		if size.added > 0 {
			metric = fmt.Sprintf("inc%g%%+%dadded/scan", share*100, size.added)
		}
		b.ReportMetric(median(ratios), metric)
		members := func(res segment.RunResult) (n uint64) {
			for _, size := range res.Sizes {
				n += size
			}
			return n
		}
		cpu := "" // without a query log (chDB) there is no CPU time
		if fullCPU := stepsCPU(ctx, b, db, full); fullCPU > 0 {
			cpu = fmt.Sprintf("; the last one's CPU %.1f s against the last incremental run's %.1f s", fullCPU, lastCPU)
		}
		b.Logf("%s: full runs on the same events: median %.2f s (%.2f× the scan%s); the incremental run is %.2f× the full run of its round (median); members %d (the last incremental run %d)",
			label, median(fulls), median(fulls)/median(scans), cpu, median(fullRatios), members(full), members(last))
		b.ReportMetric(median(fullRatios), strings.TrimSuffix(metric, "/scan")+"/full")
	}
	e.Now = func() time.Time { return now }
}

// catalogChange is how the catalog changes before an increment's run:
// products repriced, products added.
type catalogChange struct{ repriced, added int }

// benchCatalog writes categories × perCategory products: 20 departments of
// 10 categories, prices spread 0.5–2× a per-category base, 3% out of stock,
// some overstock and new tags, declared upgrades on every 20th product.
func benchCatalog(b testing.TB, db *chdb.DB, categories, perCategory int) {
	var ps []catalog.Product
	for c := 0; c < categories; c++ {
		base := 20 + float64((c*7919)%980)
		for i := 0; i < perCategory; i++ {
			n := c*perCategory + i
			p := product(fmt.Sprintf("p%d", n), fmt.Sprintf("Product %d", n),
				fmt.Sprintf("Dept %d > Cat %d", c%20, c), float64(int(base*(0.5+1.5*float64((i*37)%perCategory)/float64(perCategory))*100))/100)
			p.ID = fmt.Sprintf("p%d", n)
			if i%33 == 0 {
				p.Availability = catalog.OutOfStock
			}
			switch {
			case i%50 == 0:
				p.Tags = []string{"overstock"}
			case i%40 == 1:
				p.Tags = []string{"new"}
			}
			if i%20 == 0 && i+1 < perCategory {
				p.Upgrades = []string{fmt.Sprintf("p%d", n+1)}
			}
			p.Link = "https://bench.example/p/" + p.ID
			ps = append(ps, p)
		}
	}
	if _, err := catalog.NewStore(db, nil).Upsert(context.Background(), "bench", ps, "bench"); err != nil {
		b.Fatal(err)
	}
}

// benchEventsSQL generates @n events server-side. Each visitor has a
// favourite category (75% of their product events), products within a
// category are skewed towards the first ones, events spread over 90 days.
// Mix: 35% page_view, 15% list view, 35% product_view, 3% search, 7%
// add_to_cart, 2% checkout, 1.5% purchase, 1% remove, 0.5% identify;
// 1% bot events, 1% of visitors opted out. Events are numbered from
// @offset and dated over the @span seconds before @now.
// The traits' braces are unhex('7B') and unhex('7D'): clickhouse-go takes
// a query with "{…:…}" on one line for one with server-side parameters
// ({name:Type}) when the server supports them (ClickHouse 26, not 18.16),
// and then leaves every @name unbound; 18.16 has no char().
const benchEventsSQL = `
INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id, product_id, category, price, quantity, is_bot, opted_out, traits)
SELECT 'bench', generateUUIDv4(), t, t, type, concat('v', toString(v)), '',
    if(has_product, concat('p', toString(cat * @per_category + idx)), ''),
    if(has_product OR type = 'product_list_view', concat('Dept ', toString(cat % 20), ' > Cat ', toString(cat)), ''),
    0, if(type = 'purchase', toUInt32(if(cityHash64(number, 8) % 100 < 3, 10, 1 + cityHash64(number, 8) % 2)), toUInt32(0)),
    toUInt8(cityHash64(number, 9) % 100 = 0), toUInt8(cityHash64(v, 10) % 100 = 0),
    if(type = 'identify', concat(unhex('7B'), '"email":"v', toString(v), '@example.com"', unhex('7D')), '')
FROM (
    SELECT number, v, t, type,
        type IN ('product_view', 'add_to_cart', 'checkout', 'purchase', 'remove_from_cart') AS has_product,
        if(cityHash64(number, 3) % 100 < 75, cityHash64(v, 2) % @categories, cityHash64(number, 4) % @categories) AS cat,
        toUInt64(pow((cityHash64(number, 5) % 10000) / 10000., 2) * @per_category) AS idx
    FROM (
        SELECT number,
            cityHash64(number, 1) % @visitors AS v,
            toDateTime(@now - cityHash64(number, 7) % @span) AS t,
            multiIf(r < 350, 'page_view', r < 500, 'product_list_view', r < 850, 'product_view', r < 880, 'search',
                r < 950, 'add_to_cart', r < 970, 'checkout', r < 985, 'purchase', r < 995, 'remove_from_cart', 'identify') AS type
        FROM (SELECT k AS number, cityHash64(k, 6) % 1000 AS r FROM (SELECT number + @offset AS k FROM system.numbers LIMIT @n))
    )
)`

// settleEvents merges the generated events into one part per partition,
// as a shop's events settle into after merges, so every set times the
// run on the same layout. OPTIMIZE ... FINAL does nothing, without an
// error, while background merges hold the parts (it once left 52 parts,
// which FINAL reads far slower), so it waits for them and retries.
func settleEvents(ctx context.Context, b *testing.B, db *chdb.DB) {
	const partsQuery = "SELECT count(), uniqExact(partition) FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active"
	for try := 1; try <= 30; try++ {
		var merging uint64
		if err := db.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = currentDatabase() AND table = 'events'").Scan(&merging); err != nil {
			b.Fatal(err)
		}
		if merging == 0 {
			if err := db.Exec(ctx, "OPTIMIZE TABLE events FINAL"); err != nil {
				b.Fatal(err)
			}
		}
		var parts, partitions uint64
		if err := db.QueryRow(ctx, partsQuery).Scan(&parts, &partitions); err != nil {
			b.Fatal(err)
		}
		if parts == partitions {
			b.Logf("events in %d parts, one per partition", parts)
			return
		}
		time.Sleep(2 * time.Second)
	}
	b.Fatal("events did not settle into one part per partition")
}

// samplePeakMemory polls system.processes until stopped and returns the
// largest memory_usage of any query seen.
func samplePeakMemory(ctx context.Context, db *chdb.DB) func() int64 {
	var peak int64
	var mu sync.Mutex
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			var m int64
			if db.QueryRow(ctx, "SELECT toInt64(max(memory_usage)) FROM system.processes").Scan(&m) == nil {
				mu.Lock()
				peak = max(peak, m)
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// logSteps logs a run's steps, each with its time and, where the server
// keeps a query log (18.16's test server does, chDB does not), the CPU
// time its queries took (user + system, by query id: run/step), then the
// run's total CPU, which it returns. Steps run two at a time, so a step's
// time includes waiting for a core; its CPU time does not.
func logSteps(ctx context.Context, b *testing.B, db *chdb.DB, res segment.RunResult) float64 {
	cpu := stepCPU(ctx, b, db, res)
	var total float64
	for _, s := range res.Steps {
		if c, ok := cpu[s.Name]; ok {
			b.Logf("  %-40s %8s  cpu %6.2f s", s.Name, s.Took.Round(time.Millisecond), c)
			total += c
		} else {
			b.Logf("  %-40s %8s", s.Name, s.Took.Round(time.Millisecond))
		}
	}
	if len(cpu) > 0 {
		b.Logf("  CPU of the run's steps: %.1f s in %s", total, res.Took.Round(time.Millisecond))
	}
	return total
}

// stepsCPU is the CPU time of a run's steps (0 without a query log).
func stepsCPU(ctx context.Context, b *testing.B, db *chdb.DB, res segment.RunResult) float64 {
	var total float64
	for _, c := range stepCPU(ctx, b, db, res) {
		total += c
	}
	return total
}

// stepCPU is the CPU time of each of a run's steps, by name, from the
// query log (empty where the server keeps none).
func stepCPU(ctx context.Context, b *testing.B, db *chdb.DB, res segment.RunResult) map[string]float64 {
	cpu := map[string]float64{}
	// The flush also makes the query log on its first use.
	if err := db.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		b.Fatal(err)
	}
	var tables uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'system' AND name = 'query_log'").Scan(&tables); err != nil {
		b.Fatal(err)
	}
	if tables == 0 {
		return cpu
	}
	micros := "ProfileEvents['UserTimeMicroseconds'] + ProfileEvents['SystemTimeMicroseconds']"
	if !db.Version.AtLeast(20, 1) {
		micros = "arrayElement(ProfileEvents.Values, indexOf(ProfileEvents.Names, 'UserTimeMicroseconds'))" +
			" + arrayElement(ProfileEvents.Values, indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds'))"
	}
	rows, err := db.Query(ctx, "SELECT query_id, toFloat64(sum("+micros+")) / 1e6 FROM system.query_log WHERE type = 2 AND startsWith(query_id, @prefix) GROUP BY query_id",
		clickhouse.Named("prefix", res.RunID+"/"))
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var s float64
		if err := rows.Scan(&id, &s); err != nil {
			b.Fatal(err)
		}
		cpu[strings.TrimPrefix(id, res.RunID+"/")] = s
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return cpu
}
