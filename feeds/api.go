// Package feeds serves per-audience ad feeds (Google Merchant XML, Meta
// CSV, JSON) with time-limited discounts and signed offer tokens, checks
// offers for shop checkouts, and exports audience members for Customer
// Match / Custom Audiences uploads.
package feeds

import (
	"log/slog"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// API is the feeds capability's HTTP side.
type API struct {
	cfg   config.Config
	db    *chdb.DB
	log   *slog.Logger
	rules *ruleStore
	runs  *runCache
	cats  *catalogCache
	wins  *windowCache
	// admins throttles wrong admin tokens given to the redeem API.
	admins *httpx.Throttle

	// Now is the clock (tests move it across offer windows).
	Now func() time.Time

	cacheOnce sync.Once
	cache     *cache
	cacheErr  error
}

// NewAPI builds the feeds API; nothing runs until Register.
func NewAPI(cfg config.Config, db *chdb.DB, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	return &API{cfg: cfg, db: db, log: log, rules: newRuleStore(db), runs: newRunCache(db, time.Second),
		cats: newCatalogCache(db, time.Second), wins: newWindowCache(db, 30*time.Second), admins: httpx.NewThrottle(), Now: time.Now}
}

// Register adds the feed, offer, discount and member routes.
func (a *API) Register(r gin.IRouter) {
	r.GET("/feeds/:site/:audience/:file", httpx.RequireFeedToken(a.cfg), a.serveFeed)
	r.GET("/api/offers/verify", a.verifyOffer)
	r.POST("/api/offers/redeem", a.redeemOffer)
	admin := r.Group("/api/sites/:site", httpx.RequireAdmin(a.cfg))
	admin.GET("/discounts", a.getDiscounts)
	admin.PUT("/discounts", a.putDiscounts)
	admin.GET("/audiences/:audience/members", a.exportMembers)
}

// Close removes the feed cache files.
func (a *API) Close() {
	if a.cache != nil {
		a.cache.close()
	}
}

func (a *API) feedCache() (*cache, error) {
	a.cacheOnce.Do(func() { a.cache, a.cacheErr = newCache(a.cfg.Feeds.CacheDir, a.cfg.Feeds.CacheMaxBytes) })
	return a.cache, a.cacheErr
}
