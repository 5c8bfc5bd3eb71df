package httpx

import (
	"crypto/subtle"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/config"
)

// Sites looks up configured sites; *config.Config satisfies it through a
// small adapter so handlers can be tested with any site list.
type Sites interface {
	Site(id string) (config.Site, bool)
}

// SiteKey is the gin context key holding the authenticated config.Site.
const SiteKey = "remarket.site"

// RequireAdmin checks "Authorization: Bearer <admin_token>" against the
// site named by the :site path parameter. Unknown site and wrong token get
// the same 401, so the API does not reveal which sites exist. Wrong
// tokens (not missing ones) are throttled per client and site
// (Throttle): 429 with Retry-After. Each call has its own throttle; a right token from a
// client without failures only costs a look in it.
func RequireAdmin(sites Sites) gin.HandlerFunc {
	throttle := NewThrottle()
	return func(c *gin.Context) {
		// Admin answers hold members, visitors' events and their
		// recommendations: no cache keeps them (a handler may say otherwise).
		c.Header("Cache-Control", "no-store")
		site, ok := sites.Site(c.Param("site"))
		token, _ := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if throttle.Throttled(c, c.Param("site"), "admin tokens") {
			return
		}
		if !ok || !Equal(token, site.AdminToken) {
			if token != "" { // no token is no guess: clients that wait for the challenge send none first
				throttle.Failed(ClientIP(c.Request), c.Param("site"))
			}
			c.Header("WWW-Authenticate", `Bearer realm="remarket"`)
			Fail(c, Errorf(Unauthorized, "missing or wrong admin token (Authorization: Bearer <admin_token>)"))
			return
		}
		c.Set(SiteKey, site)
		c.Next()
	}
}

// RequireFeedToken accepts the site's feed token as the HTTP Basic password
// (any user name) or as ?token=. Wrong tokens are throttled as
// RequireAdmin's are.
func RequireFeedToken(sites Sites) gin.HandlerFunc {
	throttle := NewThrottle()
	return func(c *gin.Context) {
		site, ok := sites.Site(c.Param("site"))
		token := c.Query("token")
		if _, pw, basic := c.Request.BasicAuth(); basic {
			token = pw
		}
		if throttle.Throttled(c, c.Param("site"), "feed tokens") {
			return
		}
		if !ok || !Equal(token, site.FeedToken) {
			if token != "" { // no token is no guess: clients that wait for the challenge send none first
				throttle.Failed(ClientIP(c.Request), c.Param("site"))
			}
			c.Header("WWW-Authenticate", `Basic realm="remarket feeds"`)
			Fail(c, Errorf(Unauthorized, "missing or wrong feed token (HTTP Basic password or ?token=)"))
			return
		}
		c.Set(SiteKey, site)
		c.Next()
	}
}

// RestParam is the value of a catch-all route parameter (/visitors/*vid)
// without its leading slash: an id that may itself hold "/", matched
// against the decoded path whatever the engine's UseRawPath says.
func RestParam(c *gin.Context, name string) string {
	return strings.TrimPrefix(c.Param(name), "/")
}

// CurrentSite returns the site stored by RequireAdmin or RequireFeedToken.
func CurrentSite(c *gin.Context) config.Site {
	s, _ := c.Get(SiteKey)
	site, _ := s.(config.Site)
	return site
}

// Equal compares secrets in constant time; an empty secret never matches.
func Equal(given, want string) bool {
	if want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(given), []byte(want)) == 1
}
