// Package dashboard is remarket's web UI, served by `serve` at /ui/ from
// embedded files (no CDN; charts are inline SVG drawn by the page): sign-in
// with a site's admin token, the overview, audiences, visitor and product
// lookups. It also serves /demo/shop, a tiny shop page that embeds the
// snippet exactly as a customer's site would.
package dashboard

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

//go:embed static
var static embed.FS

// UI is the dashboard.
type UI struct {
	cfg config.Config
	db  *chdb.DB
	log *slog.Logger
	// app answers the in-process calls the dashboard makes to the other
	// capabilities' APIs (audiences, feeds, erasure), so it shows exactly
	// what those APIs serve. Set by Register when the router is the engine.
	app http.Handler
	// signIns throttles failed sign-ins per client and site.
	signIns *httpx.Throttle
}

// New returns the dashboard.
func New(cfg config.Config, db *chdb.DB, log *slog.Logger) *UI {
	return &UI{cfg: cfg, db: db, log: log, signIns: httpx.NewThrottle()}
}

// Register adds /ui/, its API under /ui/api/ and /demo/shop.
func (u *UI) Register(r gin.IRouter) {
	if h, ok := r.(http.Handler); ok {
		u.app = h
	}
	files, _ := fs.Sub(static, "static")
	fileServer := http.StripPrefix("/ui/", http.FileServer(http.FS(files)))
	serveFile := func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		pageHeaders(c)
		fileServer.ServeHTTP(c.Writer, c.Request)
	}
	r.GET("/ui", func(c *gin.Context) { c.Redirect(http.StatusFound, "/ui/") })
	r.GET("/ui/", serveFile)
	for _, name := range []string{"app.js", "app.css", "favicon.svg", "shop.js", "outcomes.js", "editor.js"} {
		r.GET("/ui/"+name, serveFile)
	}

	r.POST("/ui/api/login", apiHeaders, u.login)
	api := r.Group("/ui/api", apiHeaders, u.requireSession)
	api.GET("/session", u.session)
	api.POST("/logout", u.logout)
	api.GET("/overview", u.overview)
	api.GET("/audiences", u.audiences)
	api.GET("/audiences/:name", u.audience)
	// Visitor and user ids may hold "/": the id is the rest of the path.
	api.GET("/visitors/*vid", u.visitor)
	api.DELETE("/visitors/*vid", u.eraseVisitor)
	api.DELETE("/users/*uid", u.eraseUser)
	api.GET("/products/*pid", u.product) // product ids may hold "/" too
	u.registerForwards(api)

	r.GET("/demo/shop", u.shop)
}

// pageCSP lets the page run its own files and nothing else: no inline
// code, no images, frames or form posts elsewhere (an injected <img> or
// <form> carries nothing out, an injected <base> moves no relative URL),
// and no framing by other sites.
const pageCSP = "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pageHeaders are the headers of the dashboard's files.
func pageHeaders(c *gin.Context) {
	c.Header("Content-Security-Policy", pageCSP)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("X-Frame-Options", "DENY") // frame-ancestors for browsers without CSP 2
	c.Header("Referrer-Policy", "same-origin")
}

// apiHeaders are the headers of every answer of the dashboard's API,
// signed in or not: they hold visitors' events, feed URLs with their token
// and the CSRF token, which no cache (a browser's disk, a shared proxy)
// may keep past the request.
func apiHeaders(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("X-Frame-Options", "DENY")
	c.Header("Referrer-Policy", "same-origin")
}
