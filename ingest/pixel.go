package ingest

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/remarket/remarket/ingest/spool"
	"github.com/remarket/remarket/internal/httpx"
)

// transparentGIF is a 1×1 transparent GIF89a.
var transparentGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff" +
	"\x21\xf9\x04\x01\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b")

// visitorCookie is the first-party cookie holding a pixel visitor's
// anonymous id.
const (
	visitorCookie    = "_rmid"
	visitorCookieAge = 365 * 24 * time.Hour
)

// pixel handles GET /p.gif. Whatever the input, the browser gets 200 and
// the GIF: a page must never break or show an error because of tracking.
// Bad input is counted instead: a hit that cannot be stored in
// remarket_pixel_dropped_total{reason}, a field dropped from a stored hit
// in remarket_pixel_fields_dropped_total{field}. The answer waits for the
// durable spool write, like the JSON API.
//
// Visitor id: vid, else the _rmid cookie, else a new random id set as
// _rmid (1 year, HttpOnly, SameSite=Lax, Secure when the request came over
// HTTPS, directly or per X-Forwarded-Proto). The cookie is not set when
// the visitor opted out (see privacy.go), when ingest.cookie is false, or
// when the page sent its own vid. SameSite=Lax means the pixel host should
// be the shop's own (sub)domain, e.g. t.shop.example.
func (h *collector) pixel(c *gin.Context) {
	defer writeGIF(c)
	hit := parsePixelQuery(c.Request.URL.Query(), h.cfg.Ingest.MaxEventBytes)
	site, ok := h.cfg.SiteByWriteKey(hit.Key)
	if !ok {
		pixelDropped.WithLabelValues("unknown_key").Inc()
		return
	}
	req := c.Request
	m := hit.Msg
	optedOut := optOutHeaders(req.Header, h.cfg.Ingest.HonorDNT) ||
		consentDenied(hit.Consent) || contextConsentDenied(m.Context["consent"])

	if m.AnonymousID == "" {
		m.AnonymousID = h.visitorCookie(c, !optedOut)
	}
	if page := subMap(&m.Context, "page"); text(page["url"]) == "" && req.Referer() != "" {
		page["url"] = req.Referer() // an <img> on the page: the page is the referer
	}
	r := receipt{Site: site.ID, Received: h.now().UTC(), MaxPast: h.cfg.Ingest.MaxPast, MaxFuture: h.cfg.Ingest.MaxFuture}
	ev, problems := mapMessage(m, r)
	for _, p := range append(hit.Problems, problems...) {
		pixelFieldsDropped.WithLabelValues(metricField(p.Field)).Inc()
	}
	if ev.VisitorID == "" {
		ev.VisitorID = h.visitorCookie(c, !optedOut) // vid was refused (too long)
	}
	if ev.UserAgent == "" {
		ev.UserAgent = cleanText(req.UserAgent(), maxUA)
	}
	ev.IsBot = ev.UserAgent == "" || isBot(ev.UserAgent) // browsers always send one
	ev.OptedOut = optedOut
	ev.IP = storedIP(httpx.ClientIP(req), h.cfg.Ingest.IPMode)

	switch err := h.accept(req.Context(), []Event{ev}); {
	case err == nil:
		eventsAccepted.WithLabelValues("pixel").Inc()
	case errors.Is(err, spool.ErrFull):
		pixelDropped.WithLabelValues("spool_full").Inc()
	case errors.Is(err, spool.ErrUnavailable), errors.Is(err, spool.ErrClosed):
		pixelDropped.WithLabelValues("spool_error").Inc() // the spool logs why, once
	default:
		pixelDropped.WithLabelValues("spool_error").Inc()
		h.log.Error("pixel: cannot spool event", "site", site.ID, "err", err)
	}
}

// visitorCookie returns the visitor id from _rmid, setting a new cookie
// when there is none (or it is not ours) and setting one is allowed.
// It returns "" when there is no cookie and none may be set.
func (h *collector) visitorCookie(c *gin.Context, allowed bool) string {
	if ck, err := c.Request.Cookie(visitorCookie); err == nil {
		if id, err := uuid.Parse(ck.Value); err == nil {
			return id.String()
		}
	}
	if !allowed || !h.cfg.Ingest.CookieEnabled() {
		return ""
	}
	id := uuid.NewString()
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     visitorCookie,
		Value:    id,
		Path:     "/",
		MaxAge:   int(visitorCookieAge / time.Second),
		Expires:  h.now().Add(visitorCookieAge),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   isHTTPS(c.Request),
	})
	return id
}

// isHTTPS trusts X-Forwarded-Proto: at worst a forged header makes the
// cookie Secure, which only restricts it.
func isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

func writeGIF(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "image/gif", transparentGIF)
}
