package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// Previous is what demo_runs remembers of a site's simulated traffic.
type Previous struct {
	Found    bool
	Finished bool
	Anchor   time.Time // the Now of that simulation
	Events   int
}

// LastRun reads the site's latest simulation from demo_runs.
func LastRun(ctx context.Context, db *chdb.DB, site string) (Previous, error) {
	// The newest anchor of the site and whether it reached "done".
	rows, err := db.Query(ctx, `SELECT anchor, max(status = 'done'), max(events) FROM demo_runs WHERE site = ? GROUP BY anchor ORDER BY anchor DESC LIMIT 1`, site)
	if err != nil {
		return Previous{}, fmt.Errorf("cannot read demo_runs: %w", err)
	}
	defer rows.Close()
	var p Previous
	for rows.Next() {
		var done uint8
		var events uint32
		if err := rows.Scan(&p.Anchor, &done, &events); err != nil {
			return Previous{}, err
		}
		p.Found, p.Finished, p.Events = true, done == 1, int(events)
		p.Anchor = p.Anchor.UTC()
	}
	return p, rows.Err()
}

// Record notes a simulation's start ("started") or end ("done").
func Record(ctx context.Context, db *chdb.DB, site string, opts PlanOptions, st Stats, status string) error {
	return db.InsertRow(ctx, "INSERT INTO demo_runs (site, anchor, seed, visitors, events, status, at)",
		site, opts.Now.UTC(), opts.Seed, uint32(st.Visitors), uint32(st.Events), status, time.Now().UTC())
}

// WaitForEvents polls until the site has at least want events in
// ClickHouse (the spool ships them asynchronously) or the deadline passes.
func WaitForEvents(ctx context.Context, db *chdb.DB, site string, want int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		var n uint64
		// Distinct stored events of the site.
		if err := db.QueryRow(ctx, `SELECT count() FROM v_events WHERE site = ?`, site).Scan(&n); err != nil {
			return 0, fmt.Errorf("cannot count events: %w", err)
		}
		if int(n) >= want {
			return int(n), nil
		}
		if time.Now().After(deadline) {
			return int(n), fmt.Errorf("only %d of %d simulated events reached ClickHouse after %s", n, want, timeout)
		}
		select {
		case <-ctx.Done():
			return int(n), ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
