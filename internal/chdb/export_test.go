package chdb

import "context"

// AwaitQueryEnd is awaitQueryEnd for the tests, on any server.
func (db *DB) AwaitQueryEnd(ctx context.Context, id string) { db.awaitQueryEnd(ctx, id) }
