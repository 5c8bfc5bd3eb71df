package feeds

import (
	"context"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// runCache remembers each site's current run for a moment, so a burst of
// feed fetches (platforms pull many audiences at once) asks ClickHouse
// once instead of per request, while concurrent misses share one query.
// A run switch shows in feeds within ttl.
type runCache struct {
	db    *chdb.DB
	sites *flight[Run]
}

func newRunCache(db *chdb.DB, ttl time.Duration) *runCache {
	return &runCache{db: db, sites: newFlight[Run](ttl)}
}

// current returns the site's current run as of at most ttl ago.
func (c *runCache) current(ctx context.Context, site string) (Run, error) {
	return c.sites.get(ctx, site, "", 30*time.Second, func(ctx context.Context) (Run, error) {
		return currentRun(ctx, c.db, site)
	})
}
