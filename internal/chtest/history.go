package chtest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
)

// RunsPerSiteYear is a year of quarter-hour runs.
const RunsPerSiteYear = 365 * 96

// PositiveEnv is the positive count the environment variable name holds,
// or def when it is unset; anything else fails the test, naming it.
func PositiveEnv(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: want a positive count", name, s)
	}
	return n
}

// HistorySites is BENCH_HISTORY_SITES, the number of sites the run history
// benchmarks fill (default 10).
func HistorySites(tb testing.TB) int { return PositiveEnv(tb, "BENCH_HISTORY_SITES", 10) }

// FillRunHistory gives each of sites sites (site0, site1, …) a year of
// quarter-hour runs from 2025-01-01, merged as a year's rows would be:
// one state row per run in seg_runs, ten audience sizes (a0…a9) per run,
// and a0's outcome totals (both groups) per run.
// Run rK belongs to site K % sites and starts K / sites quarter hours in,
// and ended ok. It returns the newest run, made its site's current run,
// and when that run started.
func FillRunHistory(tb testing.TB, db *chdb.DB, sites int) (site, run string, started time.Time) {
	tb.Helper()
	ctx := context.Background()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	runs := sites * RunsPerSiteYear
	// Each run has three rows (running, running: a heartbeat, then its
	// end), merged below to the last.
	if err := db.Exec(ctx, `INSERT INTO seg_runs (site, run_id, started_at, finished_at, status, error, as_of, audiences, updated)
		SELECT concat('site', toString(intDiv(number, 3) % @sites)), concat('r', toString(intDiv(number, 3))),
			toDateTime(@start) + intDiv(number, 3 * @sites) * 900, toDateTime(@start) + intDiv(number, 3 * @sites) * 900 + 60,
			if(number % 3 = 2, 'ok', 'running'), '',
			toDateTime(@start) + intDiv(number, 3 * @sites) * 900, [], number
		FROM system.numbers LIMIT @rows`,
		clickhouse.Named("sites", sites), clickhouse.Named("start", start.Format(time.DateTime)), clickhouse.Named("rows", 3*runs)); err != nil {
		tb.Fatal(err)
	}
	if err := db.Exec(ctx, `INSERT INTO seg_audience_sizes (site, audience, run_id, run_time, size)
		SELECT concat('site', toString(intDiv(number, 10) % @sites)), concat('a', toString(number % 10)), concat('r', toString(intDiv(number, 10))),
			toDateTime(@start) + intDiv(number, 10 * @sites) * 900, 100
		FROM system.numbers LIMIT @rows`,
		clickhouse.Named("sites", sites), clickhouse.Named("start", start.Format(time.DateTime)), clickhouse.Named("rows", 10*runs)); err != nil {
		tb.Fatal(err)
	}
	// Audience a0's outcome totals, treatment and holdout, at every run.
	if err := db.Exec(ctx, `INSERT INTO seg_outcome_totals (site, run_id, run_time, audience, grp, members, converters, orders,
			revenue, revenue_sq, redemptions, discount_cost)
		SELECT concat('site', toString(intDiv(number, 2) % @sites)), concat('r', toString(intDiv(number, 2))),
			toDateTime(@start) + intDiv(number, 2 * @sites) * 900, 'a0', if(number % 2 = 0, 'treatment', 'holdout'),
			100, 10, 12, 1200, 150000, 3, 30
		FROM system.numbers LIMIT @rows`,
		clickhouse.Named("sites", sites), clickhouse.Named("start", start.Format(time.DateTime)), clickhouse.Named("rows", 2*runs)); err != nil {
		tb.Fatal(err)
	}
	if err := db.Exec(ctx, "OPTIMIZE TABLE seg_runs FINAL"); err != nil {
		tb.Fatal(err)
	}
	last := runs - 1
	site, run = fmt.Sprintf("site%d", last%sites), fmt.Sprintf("r%d", last)
	if err := db.InsertRow(ctx, "INSERT INTO seg_current (site, run_id, switched)", site, run, uint64(1)); err != nil {
		tb.Fatal(err)
	}
	return site, run, start.Add(time.Duration(last/sites) * 15 * time.Minute)
}

// Timed calls f n times and says how long it took: the median, then the
// fastest and slowest ("median 3.8ms (3.5ms–4.9ms)").
func Timed(tb testing.TB, n int, f func() error) string {
	tb.Helper()
	took := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if err := f(); err != nil {
			tb.Fatal(err)
		}
		took = append(took, time.Since(t))
	}
	slices.Sort(took)
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("median %v (%v–%v)", r(took[n/2]), r(took[0]), r(took[n-1]))
}
