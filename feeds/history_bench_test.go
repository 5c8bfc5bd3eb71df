package feeds_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chtest"
)

// BenchmarkRunLookupsWithYearsOfRuns times the two lookups a feed makes
// before its rows (its site's current run, and whether the run sized the
// audience) with BENCH_HISTORY_SITES sites (default 10), each with a year
// of quarter-hour runs (three state rows and ten audience sizes per run),
// through the views feeds read and through the history views they read
// before migration 096. Medians of 15 lookups each.
func BenchmarkRunLookupsWithYearsOfRuns(b *testing.B) {
	sites := 10
	if s := os.Getenv("BENCH_HISTORY_SITES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("BENCH_HISTORY_SITES=%q: want a positive count", s)
		}
		sites = n
	}
	const runsPerSite = 365 * 96
	db := chtest.MustOpen(b)
	ctx := context.Background()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// Run k belongs to site k % sites and starts k / sites quarter hours
	// after start; its rows say running, running (a heartbeat), then ok.
	if err := db.Exec(ctx, `INSERT INTO seg_runs (site, run_id, started_at, finished_at, status, error, as_of, audiences, updated)
		SELECT concat('site', toString(intDiv(number, 3) % @sites)), concat('r', toString(intDiv(number, 3))),
			toDateTime(@start) + intDiv(number, 3 * @sites) * 900, toDateTime(@start) + intDiv(number, 3 * @sites) * 900 + 60,
			if(number % 3 = 2, 'ok', 'running'), '', toDateTime(@start) + intDiv(number, 3 * @sites) * 900, [], number
		FROM system.numbers LIMIT @rows`,
		clickhouse.Named("sites", sites), clickhouse.Named("start", start.Format(time.DateTime)), clickhouse.Named("rows", 3*sites*runsPerSite)); err != nil {
		b.Fatal(err)
	}
	if err := db.Exec(ctx, `INSERT INTO seg_audience_sizes (site, audience, run_id, run_time, size)
		SELECT concat('site', toString(intDiv(number, 10) % @sites)), concat('a', toString(number % 10)), concat('r', toString(intDiv(number, 10))),
			toDateTime(@start) + intDiv(number, 10 * @sites) * 900, 100
		FROM system.numbers LIMIT @rows`,
		clickhouse.Named("sites", sites), clickhouse.Named("start", start.Format(time.DateTime)), clickhouse.Named("rows", 10*sites*runsPerSite)); err != nil {
		b.Fatal(err)
	}
	// Merged, as a year's rows would be: one state row per run.
	if err := db.Exec(ctx, "OPTIMIZE TABLE seg_runs FINAL"); err != nil {
		b.Fatal(err)
	}
	last := sites*runsPerSite - 1
	site, run := fmt.Sprintf("site%d", last%sites), fmt.Sprintf("r%d", last)
	if err := db.InsertRow(ctx, "INSERT INTO seg_current (site, run_id, switched)", site, run, uint64(1)); err != nil {
		b.Fatal(err)
	}
	for _, l := range []struct{ name, q string }{
		{"current run, v_segment_runs (before 096)", `SELECT count() FROM (SELECT run_id FROM v_segment_runs
			WHERE site = ? AND is_current = 1 AND status = 'ok' AND run_id = ? AND ? != '')`},
		{"current run, v_current_runs", `SELECT count() FROM (SELECT run_id FROM v_current_runs
			WHERE site = ? AND status = 'ok' AND run_id = ? AND ? != '')`},
		{"audience in run, v_audience_sizes (before 096)", "SELECT count() FROM v_audience_sizes WHERE site = ? AND run_id = ? AND audience = ?"},
		{"audience in run, v_audience_sizes_by_run", "SELECT count() FROM v_audience_sizes_by_run WHERE site = ? AND run_id = ? AND audience = ?"},
	} {
		var took []time.Duration
		for range 15 {
			t := time.Now()
			var n uint64
			if err := db.QueryRow(ctx, l.q, site, run, "a3").Scan(&n); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(t))
			if n != 1 {
				b.Fatalf("%s: %d rows, want 1", l.name, n)
			}
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		b.Logf("%d sites × a year of runs: %s: median %v (%v–%v)", sites, l.name, took[len(took)/2].Round(100*time.Microsecond),
			took[0].Round(100*time.Microsecond), took[len(took)-1].Round(100*time.Microsecond))
	}
}
