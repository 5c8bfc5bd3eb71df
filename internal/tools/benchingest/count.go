package main

import (
	"context"
	"fmt"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// openCounter connects before the count run, so connecting is not charged
// to the time until the events are queryable.
func openCounter(ctx context.Context, dsn string) (*chdb.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return chdb.Open(ctx, dsn)
}

// waitCount polls the analysts' view until it counts want events of site
// and returns how long after since that answer came back (the query's own
// time is charged too). It gives up after limit.
func waitCount(ctx context.Context, db *chdb.DB, site string, want uint64, since time.Time, limit time.Duration) (time.Duration, uint64, error) {
	deadline := time.Now().Add(limit)
	var n uint64
	for {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		// How many events of the site analysts can see.
		err := db.QueryRow(qctx, "SELECT count() FROM v_events WHERE site = ?", site).Scan(&n)
		cancel()
		if err == nil && n >= want {
			return time.Since(since), n, nil
		}
		if time.Now().After(deadline) {
			return time.Since(since), n, fmt.Errorf("%d of %d events visible after %s (last error: %v)", n, want, limit, err)
		}
		select {
		case <-ctx.Done():
			return time.Since(since), n, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// verification is what ClickHouse holds for the count run's site.
type verification struct {
	Count, Unique uint64 // through v_events: what every query sees
	RawRows       uint64 // rows in events before merges collapse copies
	Took          time.Duration
	Err           error
}

func verifyCount(ctx context.Context, db *chdb.DB, site string) (verification, error) {
	var v verification
	// Seen once each, and distinct by id: a lost or doubled event shows here.
	err := timedQuery(ctx, db, &v.Took, "SELECT count(), uniqExact(event_id) FROM v_events WHERE site = ?", site, &v.Count, &v.Unique)
	if err != nil {
		return v, fmt.Errorf("cannot count events: %w", err)
	}
	// Physical rows, re-sent copies included until a merge collapses them.
	var took time.Duration
	if err := timedQuery(ctx, db, &took, "SELECT count() FROM events WHERE site = ?", site, &v.RawRows); err != nil {
		return v, fmt.Errorf("cannot count raw events: %w", err)
	}
	return v, nil
}

// timedQuery runs a one-row query under its own generous deadline (the
// machine is shared and ClickHouse may be merging) and reports its time.
func timedQuery(ctx context.Context, db *chdb.DB, took *time.Duration, query, site string, dest ...any) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	t := time.Now()
	err := db.QueryRow(ctx, query, site).Scan(dest...)
	*took = time.Since(t)
	return err
}
