package segment

import (
	"context"
	"sync"
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
