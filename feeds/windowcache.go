package feeds

import (
	"context"
	"strconv"
	"strings"
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
	db        *chdb.DB
	audiences *flight[offerWindows] // site "\x00" audience; one entry each
}

func newWindowCache(db *chdb.DB, ttl time.Duration) *windowCache {
	return &windowCache{db: db, audiences: newFlight[offerWindows](ttl)}
}

// get returns the audience's windows for run, catalog and rules as of at
// most ttl ago. The catalog decides which listed products a feed shows
// (and so which get windows), so a catalog switch resolves them again.
func (c *windowCache) get(ctx context.Context, site, audience string, run Run, cat catalogVersion, rules []config.DiscountRule, now time.Time, limit int) (offerWindows, error) {
	var in strings.Builder
	in.WriteString(run.ID)
	in.WriteString("\x00" + strconv.FormatUint(cat.version, 10))
	for _, r := range rules {
		in.WriteString("\x00" + ruleKey(r))
	}
	in.WriteString("\x00" + strconv.Itoa(limit))
	return c.audiences.get(ctx, site+"\x00"+audience, in.String(), time.Minute, func(ctx context.Context) (offerWindows, error) {
		return resolveWindows(ctx, c.db, site, audience, run, rules, now, limit)
	})
}
