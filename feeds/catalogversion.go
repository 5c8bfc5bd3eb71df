package feeds

import (
	"context"
	"errors"
	"time"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
)

// catalogVersion names the catalog a feed joins (v_products shows one
// complete version per site, switched atomically by the catalog store):
// the feed's key carries it, because the same run joined with another
// catalog is another feed, and its switch time moves Last-Modified.
type catalogVersion struct {
	version   uint64 // 0: the site has no catalog
	switchSeq uint64 // nanoseconds at the switch
}

// switched is when the version became current (zero without a catalog).
func (c catalogVersion) switched() time.Time {
	if c.switchSeq == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(c.switchSeq)).UTC()
}

// currentCatalog reads the site's current catalog version and its switch
// (catalog.CurrentSwitch). On a cluster catalog_versions is whole on every
// node, so this reads the local replica, as v_products does.
func currentCatalog(ctx context.Context, db *chdb.DB, site string) (catalogVersion, error) {
	version, seq, err := catalog.CurrentSwitch(ctx, db, site)
	return catalogVersion{version: version, switchSeq: seq}, err
}

// catalogCache remembers each site's current catalog version for ttl, as
// runCache does the run, so feed fetches do not query it per request.
// Nothing tells feeds about a switch (imports run in other processes:
// `remarket catalog import`), so the staleness is bounded instead: a
// cached plan outlives a catalog switch by at most ttl (1s, the run
// pointer's; rules may lag 10s). A stale version never labels another
// catalog's feed: generation checks the version again (checkCatalog).
type catalogCache struct {
	db    *chdb.DB
	sites *flight[catalogVersion]
}

func newCatalogCache(db *chdb.DB, ttl time.Duration) *catalogCache {
	return &catalogCache{db: db, sites: newFlight[catalogVersion](ttl)}
}

// current returns the site's catalog version as of at most ttl ago.
func (c *catalogCache) current(ctx context.Context, site string) (catalogVersion, error) {
	return c.sites.get(ctx, site, "", 30*time.Second, func(ctx context.Context) (catalogVersion, error) {
		return currentCatalog(ctx, c.db, site)
	})
}

// errCatalogMoved means a feed was generated for a catalog version that
// is no longer current: its bytes may be the new catalog's, so they are
// not kept under the old version's key; the request plans again.
var errCatalogMoved = errors.New("the catalog switched while the feed was generated")

// checkCatalog confirms, after a feed was generated, that the plan's
// catalog version is still current. Versions only move forward, so if it
// was current when the plan read it and still is now, every read in
// between (the windows, the feed query) saw it. On a mismatch the cached
// version is dropped.
func (c *catalogCache) checkCatalog(ctx context.Context, site string, planned catalogVersion) error {
	now, err := currentCatalog(ctx, c.db, site)
	if err != nil {
		return err
	}
	if now != planned {
		c.sites.forget(site)
		return errCatalogMoved
	}
	return nil
}
