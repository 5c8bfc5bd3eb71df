package chdb

import (
	"context"
	"fmt"
	"time"
)

// PendingMutations counts the unfinished mutations of the current
// database whose text contains marker (an erasure or run id bound into
// the statement), so a caller waits for its own mutations only.
//
// On a cluster it counts on every node, in both databases: a node that
// does not answer counts as one pending, and so does each mutation a node
// has yet to pull from ZooKeeper (ALTER … ON CLUSTER returns once one
// replica of each shard made the mutation; the others load it a little
// later): the node with the most mutations of the marker is the measure.
func (db *DB) PendingMutations(ctx context.Context, marker string) (uint64, error) {
	if db.Cluster != nil {
		return db.clusterPendingMutations(ctx, marker, true)
	}
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
	return db.waitMutations(ctx, marker, wait, db.PendingMutations)
}

// WaitMutationsAnswering is WaitMutations over the nodes that answer: a
// cluster node that is down is not waited for (it loads the mutations
// from ZooKeeper when it is back, before it merges its parts). For a
// segment run's own deletions, which must not hold the run until every
// node is back; an erasure waits for every node (WaitMutations).
func (db *DB) WaitMutationsAnswering(ctx context.Context, marker string, wait time.Duration) (bool, error) {
	pending := db.PendingMutations
	if db.Cluster != nil {
		pending = func(ctx context.Context, marker string) (uint64, error) {
			return db.clusterPendingMutations(ctx, marker, false)
		}
	}
	return db.waitMutations(ctx, marker, wait, pending)
}

func (db *DB) waitMutations(ctx context.Context, marker string, wait time.Duration, pendingMutations func(context.Context, string) (uint64, error)) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		n, err := pendingMutations(ctx, marker)
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

// clusterPendingMutations is PendingMutations on a cluster; a node that
// does not answer counts as one pending when downCounts is set, and is
// left out otherwise.
func (db *DB) clusterPendingMutations(ctx context.Context, marker string, downCounts bool) (uint64, error) {
	nodes, err := db.Nodes(ctx)
	if err != nil {
		return 0, err
	}
	var pending, most uint64
	seen := make([]uint64, 0, len(nodes))
	for _, n := range nodes {
		var all, open uint64
		// The node's mutations whose text names the marker, and how many are unfinished.
		err := n.QueryRow(ctx, `SELECT count(), countIf(is_done = 0) FROM system.mutations
			WHERE database IN (?, ?) AND position(command, ?) > 0`, db.Database, db.Cluster.Local, marker).Scan(&all, &open)
		if err != nil {
			if downCounts || n.Up(ctx) {
				pending++
			}
			continue
		}
		pending += open
		most = max(most, all)
		seen = append(seen, all)
	}
	for _, all := range seen {
		pending += most - all
	}
	return pending, nil
}
