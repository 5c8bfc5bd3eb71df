package ingest

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// registerRoutes mounts the collectors of PRODUCT.md §3:
//
//	GET  /p.gif                          pixel
//	GET  /t.js                           JS snippet
//	POST /v1/{track,page,identify,screen,group,alias,batch}
//	POST /v1/{t,p,i,s,g,a,b}             Segment-compatible collect API
//	OPTIONS on the same paths            CORS preflight
//	GET  /v1/projects/{writeKey}/settings analytics.js settings document
func (s *Service) registerRoutes(r gin.IRouter) {
	h := &collector{cfg: s.cfg, log: s.log, now: s.now, accept: s.accept}
	h.register(r)
}

func (h *collector) register(r gin.IRouter) {
	r.GET("/p.gif", h.pixel)
	r.GET("/t.js", serveSnippet(snippetFor(h.cfg.Feeds.OfferParam)))
	v1 := r.Group("/v1", h.cors)
	for kind, short := range messageTypes {
		for _, path := range []string{"/" + kind, "/" + short} {
			v1.POST(path, h.collect(kind))
			v1.OPTIONS(path, preflight)
		}
	}
	for _, path := range []string{"/batch", "/b", "/import"} {
		v1.POST(path, h.collect("batch"))
		v1.OPTIONS(path, preflight)
	}
	r.GET("/v1/projects/:key/settings", h.settings) // public, no credentials: plain "*" CORS
}

// corsHeaders are the request headers browsers may send to the collect API.
const corsHeaders = "Content-Type, Authorization, X-Write-Key, Content-Encoding"

// cors answers browsers: an Origin allowed by any site's origins gets the
// CORS headers (the write key, and with it the site, is only known once
// the body is read; the collect handler then checks the site's own list
// and refuses a foreign origin with 403). Credentials are allowed because
// sendBeacon always sends them.
func (h *collector) cors(c *gin.Context) {
	origin := c.GetHeader("Origin")
	c.Header("Vary", "Origin")
	if origin == "" || !h.anySiteAllows(origin) {
		return
	}
	c.Header("Access-Control-Allow-Origin", origin)
	c.Header("Access-Control-Allow-Credentials", "true")
	c.Header("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
	c.Header("Access-Control-Allow-Headers", corsHeaders)
	c.Header("Access-Control-Max-Age", "86400")
}

// preflight answers OPTIONS; the headers, when allowed, were set by cors.
func preflight(c *gin.Context) { c.Status(http.StatusNoContent) }

func (h *collector) anySiteAllows(origin string) bool {
	for _, s := range h.cfg.Sites {
		if originAllowed(s, origin) {
			return true
		}
	}
	return false
}

// settings answers GET /v1/projects/{writeKey}/settings with the minimal
// document analytics.js (analytics-next) loads from its CDN, pointing its
// Segment.io destination at this server: load it with
// cdnURL = public_url and it sends its events here.
func (h *collector) settings(c *gin.Context) {
	key := c.Param("key")
	if _, ok := h.cfg.SiteByWriteKey(key); !ok {
		httpx.Fail(c, httpx.Errorf(httpx.NotFound, "unknown write key"))
		return
	}
	c.Header("Access-Control-Allow-Origin", "*")
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, settingsDocument(h.cfg, key))
}

func settingsDocument(cfg config.Config, key string) gin.H {
	protocol, host := "https", strings.TrimPrefix(cfg.PublicURL, "https://")
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Host != "" {
		protocol, host = u.Scheme, u.Host+strings.TrimRight(u.Path, "/")
	}
	enabled := gin.H{"__default": gin.H{"enabled": true, "integrations": gin.H{}}}
	return gin.H{
		"integrations": gin.H{
			"Segment.io": gin.H{
				"apiKey":                key,
				"apiHost":               host + "/v1",
				"protocol":              protocol,
				"unbundledIntegrations": []string{},
				"addBundledMetadata":    true,
				"maybeBundledConfigIds": gin.H{},
				"versionSettings":       gin.H{"componentTypes": []string{"browser"}},
			},
		},
		"plan":                      gin.H{"track": enabled, "identify": enabled, "group": enabled},
		"edgeFunction":              gin.H{},
		"analyticsNextEnabled":      true,
		"middlewareSettings":        gin.H{},
		"enabledMiddleware":         gin.H{},
		"metrics":                   gin.H{"sampleRate": 0},
		"legacyVideoPluginsEnabled": false,
		"remotePlugins":             []string{},
	}
}
