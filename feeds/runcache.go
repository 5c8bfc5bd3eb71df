package feeds

import (
	"context"
	"sync"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// runCache remembers each site's current run for a moment, so a burst of
// feed fetches (platforms pull many audiences at once) asks ClickHouse
// once instead of per request, while concurrent misses share one query.
// A run switch shows in feeds within ttl.
type runCache struct {
	db  *chdb.DB
	ttl time.Duration

	mu    sync.Mutex
	sites map[string]*runLookup
}

type runLookup struct {
	done chan struct{}
	at   time.Time
	run  Run
	err  error
}

func newRunCache(db *chdb.DB, ttl time.Duration) *runCache {
	return &runCache{db: db, ttl: ttl, sites: map[string]*runLookup{}}
}

// current returns the site's current run as of at most ttl ago.
func (c *runCache) current(ctx context.Context, site string) (Run, error) {
	c.mu.Lock()
	l, ok := c.sites[site]
	if ok {
		select {
		case <-l.done:
			if time.Since(l.at) > c.ttl || l.err != nil {
				ok = false
			}
		default: // in flight: share it
		}
	}
	if !ok {
		l = &runLookup{done: make(chan struct{}), at: time.Now()}
		c.sites[site] = l
		c.mu.Unlock()
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		l.run, l.err = currentRun(qctx, c.db, site)
		cancel()
		close(l.done)
		return l.run, l.err
	}
	c.mu.Unlock()
	select {
	case <-l.done:
		return l.run, l.err
	case <-ctx.Done():
		return Run{}, ctx.Err()
	}
}
