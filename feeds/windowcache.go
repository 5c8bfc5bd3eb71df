package feeds

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
)

// windowCache keeps each audience's resolved offer windows for its
// current run and rules, so cached feed fetches do not query ClickHouse,
// and concurrent requests (google.xml and meta.csv fetched at once)
// share one resolution. It resolves again after ttl: that is how an
// instance that lost a race to open a window (another instance, still on
// an earlier run, opened it with an earlier start) comes to show the
// winner. Within a run the windows change only through such races; their
// opening and closing is judged per request from the stored dates.
type windowCache struct {
	db  *chdb.DB
	ttl time.Duration

	mu sync.Mutex
	m  map[string]*windowLookup // site "\x00" audience; one entry each
}

type windowLookup struct {
	done  chan struct{}
	at    time.Time
	input string // run id, rules and limit resolved for
	res   offerWindows
	err   error
}

func newWindowCache(db *chdb.DB, ttl time.Duration) *windowCache {
	return &windowCache{db: db, ttl: ttl, m: map[string]*windowLookup{}}
}

// get returns the audience's windows for run and rules as of at most ttl ago.
func (c *windowCache) get(ctx context.Context, site, audience string, run Run, rules []config.DiscountRule, now time.Time, limit int) (offerWindows, error) {
	var in strings.Builder
	in.WriteString(run.ID)
	for _, r := range rules {
		in.WriteString("\x00" + ruleKey(r))
	}
	in.WriteString("\x00" + strconv.Itoa(limit))
	input := in.String()

	key := site + "\x00" + audience
	c.mu.Lock()
	l, ok := c.m[key]
	if ok && l.input != input {
		ok = false
	}
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
		l = &windowLookup{done: make(chan struct{}), at: time.Now(), input: input}
		c.m[key] = l
		c.mu.Unlock()
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		l.res, l.err = resolveWindows(qctx, c.db, site, audience, run, rules, now, limit)
		cancel()
		close(l.done)
		return l.res, l.err
	}
	c.mu.Unlock()
	select {
	case <-l.done:
		return l.res, l.err
	case <-ctx.Done():
		return offerWindows{}, ctx.Err()
	}
}
