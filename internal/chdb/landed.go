package chdb

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrOutcomeUnknown means an insert failed and whether it stored its row
// cannot be told.
var ErrOutcomeUnknown = errors.New("cannot tell whether the insert landed")

// InsertSwitch inserts the one row that makes something current (a run,
// a catalog version), under query id id. An insert that fails may still
// have stored its row: the answer was lost when the connection broke, the
// context ended or the server restarted once it had the row. Then readers
// read what it switched to, and its writer must not drop it. So on
// failure InsertSwitch waits (up to a minute) until the server no longer
// runs the insert, which can land after the client gave up on it, and
// asks with count (a query that counts the row; args are its parameters)
// whether the row is there: if it is, the insert landed and the result is
// nil. When that cannot be told, the error wraps ErrOutcomeUnknown.
func (db *DB) InsertSwitch(ctx context.Context, id, insert, count string, args []any, values ...any) error {
	err := db.InsertRow(WithQueryID(ctx, id), insert, values...)
	if err == nil {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		running, cerr := db.running(ctx, id)
		if cerr != nil {
			return fmt.Errorf("%w: %w (and cannot ask: %w)", ErrOutcomeUnknown, err, cerr)
		}
		if !running {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %w (and the server still runs it a minute later, query id %s)", ErrOutcomeUnknown, err, id)
		}
	}
	var n uint64
	if cerr := db.QueryRow(ctx, count, args...).Scan(&n); cerr != nil {
		return fmt.Errorf("%w: %w (and cannot ask: %w)", ErrOutcomeUnknown, err, cerr)
	}
	if n > 0 {
		return nil
	}
	return err
}
