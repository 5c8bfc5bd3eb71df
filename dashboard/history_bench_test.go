package dashboard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/remarket/remarket/dashboard"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
)

// BenchmarkSizeHistoryWithYearsOfRuns times the audiences page's size
// histories (ten audiences) with BENCH_HISTORY_SITES sites (default 10),
// each with a year of quarter-hour runs, against the query the page made
// before: every run's size, through v_audience_sizes. Medians of 15 reads.
func BenchmarkSizeHistoryWithYearsOfRuns(b *testing.B) {
	sites := chtest.HistorySites(b)
	db := chtest.MustOpen(b)
	ctx := context.Background()
	site, _, lastStart := chtest.FillRunHistory(b, db, sites)
	ui := dashboard.New(config.Config{}, db, nil)
	end := lastStart.Add(15 * time.Minute)
	var before, after int
	took := chtest.Timed(b, 15, func() error {
		rows, err := db.Query(ctx, `SELECT audience, groupArray(run_time) AS times, groupArray(size) AS sizes
			FROM (SELECT audience, run_time, size FROM v_audience_sizes WHERE site = ? ORDER BY run_time) GROUP BY audience`, site)
		if err != nil {
			return err
		}
		defer rows.Close()
		before = 0
		for rows.Next() {
			var name string
			var times []time.Time
			var sizes []uint64
			if err := rows.Scan(&name, &times, &sizes); err != nil {
				return err
			}
			before += len(sizes)
		}
		return rows.Err()
	})
	b.Logf("%d sites × a year of runs: every size, v_audience_sizes (before): %s, %d points", sites, took, before)
	took = chtest.Timed(b, 15, func() error {
		hist, err := ui.SizeHistory(ctx, site, "", end)
		after = 0
		for _, points := range hist {
			after += len(points)
		}
		if err == nil && len(hist) != 10 {
			err = fmt.Errorf("%d audiences' histories, want 10", len(hist))
		}
		return err
	})
	b.Logf("%d sites × a year of runs: the last 90 days' size history: %s, %d points", sites, took, after)
}
