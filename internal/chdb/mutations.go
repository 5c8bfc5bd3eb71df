package chdb

import (
	"context"
	"fmt"
	"time"
)

// PendingMutations counts the unfinished mutations of the current
// database whose text contains marker (an erasure or run id bound into
// the statement), so a caller waits for its own mutations only.
func (db *DB) PendingMutations(ctx context.Context, marker string) (uint64, error) {
	var n uint64
	// Unfinished mutations whose text names the marker.
	err := db.QueryRow(ctx, `SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0 AND position(command, ?) > 0`,
		marker).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("cannot read system.mutations: %w", err)
	}
	return n, nil
}

// WaitMutations polls until no mutation named by marker is unfinished
// (true), or wait has passed (false). ALTER … DELETE returns before the
// rows are gone: on 18.16 there is no mutations_sync, so every version
// polls.
func (db *DB) WaitMutations(ctx context.Context, marker string, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		n, err := db.PendingMutations(ctx, marker)
		if err != nil || n == 0 {
			return err == nil, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
