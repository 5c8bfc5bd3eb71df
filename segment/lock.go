package segment

import "sync"

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
