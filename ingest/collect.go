package ingest

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/remarket/remarket/ingest/spool"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// collector serves the pixel, the snippet and the Segment-compatible
// collect API in front of a durable accept function (Service.accept).
type collector struct {
	cfg    config.Config
	log    *slog.Logger
	now    func() time.Time
	accept func(context.Context, []Event) error
}

// retryAfterSeconds is what a client is told to wait when the spool is
// full: long enough for the shipper to drain a few batches.
const retryAfterSeconds = "5"

// rejection is a client error with the reason it is counted under.
type rejection struct {
	reason string
	err    *httpx.Error
}

func (r *rejection) Error() string { return r.err.Message }
func (r *rejection) Unwrap() error { return r.err }

func reject(reason string, code httpx.Code, msg string) error {
	return &rejection{reason, httpx.Errorf(code, msg)}
}

// collect handles POST /v1/<kind> (kind "batch" or a call type). The
// answer is 200 {"success":true} only after every event of the request is
// in the spool; a request with one bad event is refused whole, so a
// client never has to guess which of its events were kept.
func (h *collector) collect(kind string) gin.HandlerFunc {
	return func(c *gin.Context) {
		events, err := h.readRequest(c, kind)
		if err == nil && len(events) > 0 {
			err = h.accept(c.Request.Context(), events)
			switch {
			case errors.Is(err, spool.ErrFull):
				c.Header("Retry-After", retryAfterSeconds)
				err = reject("spool_full", httpx.TooMany, "the server is busy storing earlier events; retry after "+retryAfterSeconds+" seconds")
			case errors.Is(err, spool.ErrUnavailable), errors.Is(err, spool.ErrClosed):
				// The disk is full or failing (logged by the spool), or
				// the server is shutting down: another instance, or this
				// one a little later, can take the events.
				c.Header("Retry-After", retryAfterSeconds)
				err = reject("spool_unavailable", httpx.Unavailable, "the server cannot store events right now; retry after "+retryAfterSeconds+" seconds")
			}
		}
		if err != nil {
			var r *rejection
			if errors.As(err, &r) {
				eventsRejected.WithLabelValues(r.reason).Inc()
			}
			httpx.Fail(c, err)
			return
		}
		eventsAccepted.WithLabelValues("api").Add(float64(len(events)))
		c.JSON(http.StatusOK, gin.H{"success": true})
	}
}

// readRequest authenticates and decodes one collect request into events.
func (h *collector) readRequest(c *gin.Context, kind string) ([]Event, error) {
	headerKey := c.GetHeader("X-Write-Key")
	if user, _, ok := c.Request.BasicAuth(); ok {
		headerKey = user
	}
	if headerKey != "" {
		if _, ok := h.cfg.SiteByWriteKey(headerKey); !ok {
			return nil, reject("unauthorized", httpx.Unauthorized, "unknown write key")
		}
	}
	body, err := h.readBody(c.Request)
	if err != nil {
		return nil, err
	}
	var msgs []message
	var bodyKey string
	if kind == "batch" {
		msgs, bodyKey, err = h.decodeBatch(body)
	} else {
		var m message
		m, err = h.decodeOne(body, kind)
		msgs, bodyKey = []message{m}, m.WriteKey
	}
	if err != nil {
		return nil, err
	}
	key := or(headerKey, bodyKey)
	site, err := h.authenticate(c, key)
	if err != nil {
		return nil, err
	}
	events := make([]Event, 0, len(msgs))
	r := receipt{Site: site.ID, Received: h.now().UTC(), MaxPast: h.cfg.Ingest.MaxPast, MaxFuture: h.cfg.Ingest.MaxFuture}
	for i, m := range msgs {
		ev, err := h.toEvent(c.Request, m, r)
		if err == nil && m.WriteKey != "" && m.WriteKey != key {
			// One request is one site's: storing another key's events
			// under this one would put them in the wrong shop.
			err = reject("unauthorized", httpx.Unauthorized, "writeKey differs from the request's write key; send each site's events in their own request")
		}
		if err != nil {
			if kind == "batch" {
				err = prefixed(fmt.Sprintf("batch[%d]: ", i), err)
			}
			return nil, err
		}
		events = append(events, ev)
	}
	return firstCopies(events), nil
}

// firstCopies keeps the first of the events a request sends with the same
// id for the same visitor (the copies the events table deduplicates). The
// first copy received is the event; in the table, copies received in the
// same second are ranked by their content instead, so a later copy in the
// request could win there.
func firstCopies(events []Event) []Event {
	if len(events) < 2 {
		return events
	}
	type copyKey struct {
		visitor string
		id      uuid.UUID
	}
	seen := make(map[copyKey]bool, len(events))
	return slices.DeleteFunc(events, func(ev Event) bool {
		k := copyKey{ev.VisitorID, ev.ID}
		if seen[k] {
			return true
		}
		seen[k] = true
		return false
	})
}

// readBody enforces the content type and the request size limit, and
// undoes gzip (some SDKs compress their batches).
func (h *collector) readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "text/plain") {
			return nil, reject("content_type", httpx.Invalid, fmt.Sprintf("unsupported Content-Type %q: send JSON as application/json or text/plain", cleanText(ct, 100)))
		}
	}
	limit := int64(h.cfg.Ingest.MaxRequestBytes)
	tooLarge := reject("too_large", httpx.TooLarge, fmt.Sprintf("request body over %d bytes (ingest.max_request_bytes); send smaller batches", limit))
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	// The limit holds on both sides of gzip: for the bytes sent (a
	// chunked body has no Content-Length to refuse early) and for the
	// JSON they unpack to.
	var body io.Reader = http.MaxBytesReader(nil, r.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			if isOverLimit(err) {
				return nil, tooLarge
			}
			return nil, reject("bad_json", httpx.Invalid, "bad gzip body")
		}
		body = zr
	default:
		return nil, reject("content_encoding", httpx.Unsupported, fmt.Sprintf("unsupported Content-Encoding %q: send the body as is or gzip'd", cleanText(enc, 100)))
	}
	raw, err := io.ReadAll(io.LimitReader(body, limit+1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, reject("timeout", httpx.Timeout, fmt.Sprintf("request body not received within %v (http.read_timeout); send it faster", h.cfg.HTTP.ReadTimeout))
	}
	if isOverLimit(err) {
		return nil, tooLarge
	}
	if err != nil {
		return nil, reject("bad_json", httpx.Invalid, "cannot read body: "+cleanText(err.Error(), 200))
	}
	if int64(len(raw)) > limit {
		return nil, tooLarge
	}
	return raw, nil
}

func isOverLimit(err error) bool {
	var tooLarge *http.MaxBytesError
	return errors.As(err, &tooLarge)
}

func (h *collector) eventTooLarge(n int) error {
	return reject("too_large", httpx.TooLarge, fmt.Sprintf("event is %d bytes, over the %d bytes limit (ingest.max_event_bytes)", n, h.cfg.Ingest.MaxEventBytes))
}

// decodeOne reads the body of a single-call route.
func (h *collector) decodeOne(body []byte, kind string) (message, error) {
	if len(body) > h.cfg.Ingest.MaxEventBytes {
		return message{}, h.eventTooLarge(len(body))
	}
	obj, err := decodeObject(body)
	if err != nil {
		return message{}, asRejection("bad_json", err)
	}
	m, err := readMessage(obj, kind)
	return m, asRejection("bad_field", err)
}

// decodeBatch reads a batch body; the envelope's sentAt applies to
// messages without their own.
func (h *collector) decodeBatch(body []byte) ([]message, string, error) {
	b, err := decodeBatch(body)
	if err != nil {
		return nil, "", asRejection("bad_json", err)
	}
	sent, err := parseTimestamp("sentAt", b.SentAt)
	if err != nil {
		return nil, "", asRejection("bad_timestamp", err)
	}
	msgs := make([]message, len(b.Batch))
	key := b.WriteKey
	for i, raw := range b.Batch {
		at := fmt.Sprintf("batch[%d]: ", i)
		if len(raw) > h.cfg.Ingest.MaxEventBytes {
			return nil, "", prefixed(at, h.eventTooLarge(len(raw)))
		}
		obj, err := decodeObject(raw)
		if err != nil {
			return nil, "", prefixed(at, asRejection("bad_json", err))
		}
		m, err := readMessage(obj, "")
		if err != nil {
			return nil, "", prefixed(at, asRejection("bad_field", err))
		}
		m.withBatchSentAt(sent)
		key = or(key, m.WriteKey)
		msgs[i] = m
	}
	return msgs, key, nil
}

// authenticate finds the site of a write key and checks the request's
// Origin against the site's allow-list.
func (h *collector) authenticate(c *gin.Context, key string) (config.Site, error) {
	if key == "" {
		return config.Site{}, reject("unauthorized", httpx.Unauthorized, "missing write key: send it as the HTTP Basic user, the X-Write-Key header or writeKey in the body")
	}
	site, ok := h.cfg.SiteByWriteKey(key)
	if !ok {
		return site, reject("unauthorized", httpx.Unauthorized, "unknown write key")
	}
	if origin := c.GetHeader("Origin"); origin != "" && !originAllowed(site, origin) {
		return site, reject("origin", httpx.Forbidden, fmt.Sprintf("origin %q is not allowed for this write key (sites[].origins)", cleanText(origin, 200)))
	}
	return site, nil
}

// toEvent maps one message and applies the request-level rules: required
// ids, time window, privacy.
func (h *collector) toEvent(req *http.Request, m message, r receipt) (Event, error) {
	ev, problems := mapMessage(m, r)
	if len(problems) > 0 {
		reason := "bad_field"
		if f := problems[0].Field; f == "timestamp" || f == "sentAt" {
			reason = "bad_timestamp"
		}
		return ev, reject(reason, httpx.Invalid, problems[0].Error())
	}
	if ev.VisitorID == "" && ev.UserID == "" {
		return ev, reject("missing_id", httpx.Invalid, "missing userId or anonymousId")
	}
	if m.Type == "track" && ev.Name == "" {
		return ev, reject("missing_event", httpx.Invalid, "missing event (the name of the tracked action, e.g. \"Product Viewed\")")
	}
	judgeBot(&ev, req)
	ev.OptedOut = optOutHeaders(req.Header, h.cfg.Ingest.HonorDNT) || contextConsentDenied(m.Context["consent"])
	ip := httpx.ClientIP(req)
	if s, ok := m.Context["ip"].(string); ok {
		if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
			ip = a.Unmap()
		}
	}
	ev.IP = storedIP(ip, h.cfg.Ingest.IPMode)
	return ev, nil
}

// originAllowed checks a browser Origin against a site's allow-list
// (empty allows any origin).
func originAllowed(site config.Site, origin string) bool {
	return len(site.Origins) == 0 || slices.ContainsFunc(site.Origins, func(o string) bool {
		return strings.EqualFold(strings.TrimRight(o, "/"), origin)
	})
}

// asRejection counts a decoding error under reason (fieldErrors become
// 400s naming the field).
func asRejection(reason string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		if fe.Field == "timestamp" || fe.Field == "sentAt" {
			reason = "bad_timestamp"
		}
		return reject(reason, httpx.Invalid, fe.Error())
	}
	var he *httpx.Error
	if errors.As(err, &he) {
		return &rejection{reason, he}
	}
	return err
}

// prefixed puts where (e.g. "batch[3]: ") in front of a client message.
func prefixed(where string, err error) error {
	var r *rejection
	if errors.As(err, &r) {
		return &rejection{r.reason, httpx.Errorf(r.err.Code, where+r.err.Message)}
	}
	return err
}
