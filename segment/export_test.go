package segment

import (
	"context"
	"time"
)

// RecordAbandoned records a run abandoned as another process's run would
// on finding it silent (dropAbandonedRuns), last seen now.
func (e *Engine) RecordAbandoned(ctx context.Context, site, runID string) error {
	return e.recordAbandoned(ctx, site, runID, time.Now())
}
