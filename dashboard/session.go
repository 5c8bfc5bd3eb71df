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

// Sessions are stateless: the cookie carries site, expiry and a nonce,
// signed with the site's admin token. Any serve instance can check it,
// restarts keep people signed in, and rotating the admin token signs
// everybody out. The CSRF token is a second MAC of the nonce that the page
// holds in memory and sends as X-CSRF-Token on every write.
const (
	cookieName  = "rm_session"
	cookiePath  = "/ui"
	sessionTTL  = 12 * time.Hour
	csrfHeader  = "X-CSRF-Token"
	sessionSite = "dashboard.site"
	sessionCSRF = "dashboard.csrf"
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

// checkSession returns the site and CSRF token of a valid cookie value.
func checkSession(sites httpx.Sites, value string, now time.Time) (config.Site, string, bool) {
	parts := strings.Split(value, "|")
	if len(parts) != 4 {
		return config.Site{}, "", false
	}
	site, ok := sites.Site(parts[0])
	if !ok || site.AdminToken == "" {
		return config.Site{}, "", false
	}
	payload := strings.Join(parts[:3], "|")
	if !hmac.Equal([]byte(parts[3]), []byte(mac(site.AdminToken, "session|"+payload))) {
		return config.Site{}, "", false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || now.Unix() > exp {
		return config.Site{}, "", false
	}
	return site, mac(site.AdminToken, "csrf|"+parts[2]), true
}

func secureRequest(c *gin.Context) bool {
	return c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
}

func setCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: cookieName, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secureRequest(c),
	})
}

// login checks site + admin token and starts a session.
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
	if err := c.ShouldBindJSON(&in); err != nil {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "send JSON {\"site\": ..., \"token\": ...}"))
		return
	}
	site, ok := u.cfg.Site(strings.TrimSpace(in.Site))
	if !ok || !httpx.Equal(strings.TrimSpace(in.Token), site.AdminToken) {
		httpx.Fail(c, httpx.Errorf(httpx.Unauthorized, "unknown site or wrong admin token"))
		return
	}
	cookie, csrf := newSession(site, time.Now())
	setCookie(c, cookie, int(sessionTTL/time.Second))
	c.JSON(http.StatusOK, gin.H{"site": site.ID, "csrf": csrf})
}

func (u *UI) logout(c *gin.Context) {
	setCookie(c, "", -1)
	c.JSON(http.StatusOK, gin.H{"signed_out": true})
}

func (u *UI) session(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"site": c.MustGet(sessionSite).(config.Site).ID, "csrf": c.MustGet(sessionCSRF)})
}

// requireSession guards the dashboard API; writes also need the CSRF token.
func (u *UI) requireSession(c *gin.Context) {
	value, _ := c.Cookie(cookieName)
	site, csrf, ok := checkSession(u.cfg, value, time.Now())
	if !ok {
		httpx.Fail(c, httpx.Errorf(httpx.Unauthorized, "sign in first"))
		return
	}
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead:
	default:
		if !hmac.Equal([]byte(c.GetHeader(csrfHeader)), []byte(csrf)) {
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "missing or wrong " + csrfHeader, "code": "forbidden"})
			return
		}
	}
	c.Set(sessionSite, site)
	c.Set(sessionCSRF, csrf)
	c.Next()
}
