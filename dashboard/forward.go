package dashboard

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// The lift panel, the audience editor and the discount rules editor use
// the admin API itself (lift, dry run, validation): these routes forward a
// signed-in page's request to it as the site, body and all, and answer
// what it answered, so the page shows the API's own messages (which name
// the field). Writes need the page's CSRF token (requireSession).
func (u *UI) registerForwards(api gin.IRouter) {
	api.GET("/audiences/:name/lift", u.forwardAudience(http.MethodGet, "/lift"))
	api.POST("/audiences/:name/dry-run", u.forwardAudience(http.MethodPost, "/dry-run"))
	api.PUT("/audiences/:name", u.forwardAudience(http.MethodPut, ""))
	api.GET("/discounts", u.forward(http.MethodGet, "/discounts"))
	api.PUT("/discounts", u.forward(http.MethodPut, "/discounts"))
	api.POST("/segments/run", u.forward(http.MethodPost, "/segments/run?wait=1"))
}

// forward forwards to /api/sites/:site + path.
func (u *UI) forward(method, path string) gin.HandlerFunc {
	return func(c *gin.Context) { u.send(c, method, path) }
}

// forwardAudience forwards to /api/sites/:site/audiences/:name + suffix.
func (u *UI) forwardAudience(method, suffix string) gin.HandlerFunc {
	return func(c *gin.Context) {
		name := c.Param("name")
		if !config.ValidAudienceName(name) {
			httpx.Fail(c, httpx.Errorf(httpx.Invalid, "name: use 1-64 of a-z, 0-9, '_' or '-'"))
			return
		}
		path := "/audiences/" + url.PathEscape(name) + suffix
		if q := c.Request.URL.RawQuery; q != "" {
			path += "?" + q
		}
		u.send(c, method, path)
	}
}

// send makes the request to the admin API with the page's JSON body.
func (u *UI) send(c *gin.Context, method, path string) {
	if u.app == nil {
		httpx.Fail(c, httpx.Errorf(httpx.Unavailable, "dashboard: not registered on the application's engine"))
		return
	}
	body, err := httpx.ReadBody(c, 1<<20)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	s := site(c)
	req, err := http.NewRequestWithContext(c.Request.Context(), method, sitePath(s, "")+path, bytes.NewReader(body))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Authorization", "Bearer "+s.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Remarket-Dashboard", "1")
	w := httptest.NewRecorder()
	u.app.ServeHTTP(w, req)
	c.Data(w.Code, "application/json; charset=utf-8", w.Body.Bytes())
}
