package privacy

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// API is the admin API of erasure requests.
type API struct {
	cfg    config.Config
	eraser *Eraser
}

// NewAPI returns the erasure API.
func NewAPI(cfg config.Config, db *chdb.DB, log *slog.Logger) *API {
	if cfg.ErasureKey == "" {
		log.Warn("erasure_key is not set: erasure_log hashes ids with a key derived from each site's admin token; add erasure_key to the config (or REMARKET_ERASURE_KEY), see docs/operations.md#erasure")
	}
	return &API{cfg: cfg, eraser: NewEraser(cfg, db, log)}
}

// Register adds DELETE /api/sites/:site/visitors/{vid} and
// DELETE /api/sites/:site/users/{uid} (admin token). The id is the rest of
// the path: ingest stores ids with "/", and a client percent-encodes them
// ("a%2Fb"), which the router has decoded to "a/b" by the time it
// matches, so a one-segment parameter would answer 404.
func (a *API) Register(r gin.IRouter) {
	g := r.Group("/api/sites/:site", httpx.RequireAdmin(a.cfg))
	g.DELETE("/visitors/*vid", func(c *gin.Context) { a.erase(c, "visitor", httpx.RestParam(c, "vid")) })
	g.DELETE("/users/*uid", func(c *gin.Context) { a.erase(c, "user", httpx.RestParam(c, "uid")) })
}

func (a *API) erase(c *gin.Context, kind, id string) {
	if id = strings.TrimSpace(id); id == "" || len(id) > 200 {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, kind+" id must be 1-200 characters"))
		return
	}
	site := httpx.CurrentSite(c)
	res, err := a.eraser.Erase(c.Request.Context(), Subject{Site: site.ID, Kind: kind, ID: id}, RequestedBy(c, site))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	status := http.StatusOK
	if res.Status == "running" {
		status = http.StatusAccepted // ClickHouse is still deleting; erasure_log has the request
	}
	c.JSON(status, res)
}

// RequestedBy names the caller for the audit log without a secret or
// personal data: the channel and a fingerprint of the admin token, so a
// rotated token shows up as a different requester.
func RequestedBy(c *gin.Context, site config.Site) string {
	sum := sha256.Sum256([]byte(site.AdminToken))
	via := "admin_api"
	if c.GetHeader("X-Remarket-Dashboard") == "1" {
		via = "dashboard"
	}
	return via + ":" + hex.EncodeToString(sum[:4])
}
