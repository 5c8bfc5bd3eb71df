package segment

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// runLocks allows one run per site at a time within a process.
var runLocks sync.Map // site → *sync.Mutex

func (e *Engine) lock(site string) bool {
	m, _ := runLocks.LoadOrStore(site, &sync.Mutex{})
	return m.(*sync.Mutex).TryLock()
}

func (e *Engine) unlock(site string) {
	if m, ok := runLocks.Load(site); ok {
		m.(*sync.Mutex).Unlock()
	}
}

// lockWait waits for the site's run lock until ctx ends.
func (e *Engine) lockWait(ctx context.Context, site string) error {
	for !e.lock(site) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// dryRuns counts, per site, the dry runs holding its run lock. A run
// waits for those rather than give up as busy: a dry run is the audience
// editor's preview, short, and must not make the schedule skip the
// site's turn (nor an on-demand run answer 409).
var dryRuns sync.Map // site → *atomic.Int32

func dryRunCount(site string) *atomic.Int32 {
	n, _ := dryRuns.LoadOrStore(site, new(atomic.Int32))
	return n.(*atomic.Int32)
}

// lockForDryRun waits for the site's run lock for a dry run.
func (e *Engine) lockForDryRun(ctx context.Context, site string) error {
	if err := e.lockWait(ctx, site); err != nil {
		return err
	}
	dryRunCount(site).Add(1)
	return nil
}

func (e *Engine) unlockDryRun(site string) {
	dryRunCount(site).Add(-1)
	e.unlock(site)
}

// lockForRun takes the site's run lock for a run: at once, or after the
// dry run holding it (false when another run holds it, or ctx ended).
func (e *Engine) lockForRun(ctx context.Context, site string) bool {
	if e.lock(site) {
		return true
	}
	return dryRunCount(site).Load() > 0 && e.lockWait(ctx, site) == nil
}
