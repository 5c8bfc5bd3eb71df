package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// Sessions are signed cookies: the cookie carries site, expiry and a
// nonce, signed with the site's admin token. Any serve instance can check
// it, restarts keep people signed in, and rotating the admin token signs
// everybody out. Signing out records the session as revoked in ClickHouse
// (dashboard_revoked_sessions), which every instance consults, so an old
// copy of the cookie stops working everywhere at once. The CSRF token is
// a second MAC of the nonce that the page holds in memory and sends as
// X-CSRF-Token on every write.
const (
	cookieName  = "rm_session"
	cookiePath  = "/ui"
	sessionTTL  = 12 * time.Hour
	csrfHeader  = "X-CSRF-Token"
	sessionSite = "dashboard.site"
	sessionKey  = "dashboard.session"
	// maxSignInBytes bounds the sign-in body, which is read before any
	// check: a site id and a token fit many times over.
	maxSignInBytes = 4 << 10
)

func mac(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func newSession(site config.Site, now time.Time) (cookie, csrf string) {
	var n [16]byte
	rand.Read(n[:])
	nonce := base64.RawURLEncoding.EncodeToString(n[:])
	payload := site.ID + "|" + strconv.FormatInt(now.Add(sessionTTL).Unix(), 10) + "|" + nonce
	return payload + "|" + mac(site.AdminToken, "session|"+payload), mac(site.AdminToken, "csrf|"+nonce)
}

// session is what a valid cookie says.
type session struct {
	site    config.Site
	csrf    string
	id      string // SHA-256 of the nonce: the name a revocation uses
	expires time.Time
}

// checkSession returns the session of a validly signed, unexpired cookie
// value (revocation is checked apart: it needs ClickHouse).
func checkSession(sites httpx.Sites, value string, now time.Time) (session, bool) {
	parts := strings.Split(value, "|")
	if len(parts) != 4 {
		return session{}, false
	}
	site, ok := sites.Site(parts[0])
	if !ok || site.AdminToken == "" {
		return session{}, false
	}
	payload := strings.Join(parts[:3], "|")
	if !hmac.Equal([]byte(parts[3]), []byte(mac(site.AdminToken, "session|"+payload))) {
		return session{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || now.Unix() > exp {
		return session{}, false
	}
	id := sha256.Sum256([]byte(parts[2]))
	return session{site: site, csrf: mac(site.AdminToken, "csrf|"+parts[2]), id: hex.EncodeToString(id[:]), expires: time.Unix(exp, 0).UTC()}, true
}

// secureRequest reports whether the browser reached remarket over TLS:
// here, through a proxy that says so, or at a public_url on https (a
// proxy terminating TLS need not send X-Forwarded-Proto).
func (u *UI) secureRequest(c *gin.Context) bool {
	return c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https") ||
		strings.HasPrefix(strings.ToLower(u.cfg.PublicURL), "https://")
}

func (u *UI) setCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: cookieName, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secureRequest(c),
	})
}

// login checks site + admin token and starts a session. Failures are
// throttled per client and site (httpx.Throttle): 429 with Retry-After.
func (u *UI) login(c *gin.Context) {
	// A JSON body cannot be sent cross-site without a CORS preflight,
	// which this endpoint never grants: no login CSRF.
	if !strings.HasPrefix(c.ContentType(), "application/json") {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "send Content-Type: application/json"))
		return
	}
	var in struct {
		Site  string `json:"site"`
		Token string `json:"token"`
	}
	// Anyone may call this: read no more than a site id and a token need.
	httpx.LimitBody(c, maxSignInBytes)
	if err := c.ShouldBindJSON(&in); err != nil {
		if e := httpx.BodyError(err); e != nil {
			httpx.Fail(c, e)
			return
		}
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "send JSON {\"site\": ..., \"token\": ...}"))
		return
	}
	siteID, client := strings.TrimSpace(in.Site), httpx.ClientIP(c.Request)
	if u.signIns.Throttled(c, siteID, "sign-ins") {
		return
	}
	site, ok := u.cfg.Site(siteID)
	if !ok || !httpx.Equal(strings.TrimSpace(in.Token), site.AdminToken) {
		u.signIns.Failed(client, siteID)
		httpx.Fail(c, httpx.Errorf(httpx.Unauthorized, "unknown site or wrong admin token"))
		return
	}
	u.signIns.Succeeded(client, siteID)
	cookie, csrf := newSession(site, time.Now())
	u.setCookie(c, cookie, int(sessionTTL/time.Second))
	c.JSON(http.StatusOK, gin.H{"site": site.ID, "csrf": csrf})
}

// logout revokes the session on every instance, then clears the cookie.
func (u *UI) logout(c *gin.Context) {
	s := c.MustGet(sessionKey).(session)
	if err := u.revoke(c.Request.Context(), s); err != nil {
		httpx.Fail(c, err) // the cookie would go on working: say so
		return
	}
	u.setCookie(c, "", -1)
	c.JSON(http.StatusOK, gin.H{"signed_out": true})
}

func (u *UI) session(c *gin.Context) {
	s := c.MustGet(sessionKey).(session)
	c.JSON(http.StatusOK, gin.H{"site": s.site.ID, "csrf": s.csrf})
}

// requireSession guards the dashboard API; writes also need the CSRF token.
func (u *UI) requireSession(c *gin.Context) {
	value, _ := c.Cookie(cookieName)
	s, ok := checkSession(u.cfg, value, time.Now())
	if !ok {
		httpx.Fail(c, httpx.Errorf(httpx.Unauthorized, "sign in first"))
		return
	}
	revoked, err := u.revoked(c.Request.Context(), s)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if revoked {
		httpx.Fail(c, httpx.Errorf(httpx.Unauthorized, "signed out: sign in again"))
		return
	}
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead:
	default:
		if !hmac.Equal([]byte(c.GetHeader(csrfHeader)), []byte(s.csrf)) {
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "missing or wrong " + csrfHeader, "code": "forbidden"})
			return
		}
	}
	c.Set(sessionSite, s.site)
	c.Set(sessionKey, s)
	c.Next()
}
