package feeds_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/remarket/remarket/internal/chtest"
)

// BenchmarkRunLookupsWithYearsOfRuns times the two lookups a feed makes
// before its rows (its site's current run, and whether the run sized the
// audience) with BENCH_HISTORY_SITES sites (default 10), each with a year
// of quarter-hour runs (three state rows and ten audience sizes per run),
// through the views feeds read and through the history views they read
// before migration 096. Medians of 15 lookups each.
func BenchmarkRunLookupsWithYearsOfRuns(b *testing.B) {
	sites := chtest.HistorySites(b)
	db := chtest.MustOpen(b)
	ctx := context.Background()
	site, run, _ := chtest.FillRunHistory(b, db, sites)
	for _, l := range []struct{ name, q string }{
		{"current run, v_segment_runs (before 096)", `SELECT count() FROM (SELECT run_id FROM v_segment_runs
			WHERE site = ? AND is_current = 1 AND status = 'ok' AND run_id = ? AND ? != '')`},
		{"current run, v_current_runs", `SELECT count() FROM (SELECT run_id FROM v_current_runs
			WHERE site = ? AND status = 'ok' AND run_id = ? AND ? != '')`},
		{"audience in run, v_audience_sizes (before 096)", "SELECT count() FROM v_audience_sizes WHERE site = ? AND run_id = ? AND audience = ?"},
		{"audience in run, v_audience_sizes_by_run", "SELECT count() FROM v_audience_sizes_by_run WHERE site = ? AND run_id = ? AND audience = ?"},
	} {
		took := chtest.Timed(b, 15, func() error {
			var n uint64
			if err := db.QueryRow(ctx, l.q, site, run, "a3").Scan(&n); err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("%s: %d rows, want 1", l.name, n)
			}
			return nil
		})
		b.Logf("%d sites × a year of runs: %s: %s", sites, l.name, took)
	}
}
