// Package httplimit bounds what HTTP clients can hold on serve's
// listener, so that slow or many clients cannot take the server down:
// open connections (Listener), requests sending a body at once and the
// time one response write may block (Handler). The answer of each limit
// names the config key that raises it. Read timeouts are http.Server's.
package httplimit

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Options configure Handler.
type Options struct {
	MaxBodyRequests int           // http.max_body_requests
	WriteTimeout    time.Duration // http.write_timeout
	Logger          *slog.Logger
}

// Handler wraps next with the per-request limits:
//
//   - Requests that send a body (the collect API, admin writes; any
//     request with a non-zero Content-Length or a chunked body) take one of
//     MaxBodyRequests slots while they are read and handled. With none
//     free the answer is an immediate 503 naming http.max_body_requests,
//     and the connection is closed without waiting for the body: a flood
//     of slow uploads then holds at most MaxBodyRequests connections,
//     each for at most http.read_timeout, and the rest of the connections
//     stay free for the pixel and health checks, which send no body.
//   - A handler that answers without reading the whole body gets its
//     connection closed after the answer instead of net/http waiting for
//     the rest of the body (up to read_timeout, on a slow client).
//   - Every response write must be taken by the client within
//     WriteTimeout of the last one; a client that stops reading is cut
//     off, a slow stream or a long-running handler is not.
func Handler(next http.Handler, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &handler{next: next, opts: opts, bodies: make(chan struct{}, opts.MaxBodyRequests)}
}

type handler struct {
	next   http.Handler
	opts   Options
	bodies chan struct{}
	warned rateLimit
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dw := &deadlineWriter{ResponseWriter: w, timeout: h.opts.WriteTimeout}
	if r.ContentLength == 0 {
		h.next.ServeHTTP(dw, r)
		dw.extend() // net/http flushes the answer after the handler
		return
	}
	select {
	case h.bodies <- struct{}{}:
	default:
		h.refuse(w)
		return
	}
	defer func() { <-h.bodies }()
	body := &countingBody{ReadCloser: r.Body, want: r.ContentLength}
	r.Body, dw.body = body, body
	h.next.ServeHTTP(dw, r)
	if !body.done() {
		if !dw.wroteHeader {
			w.Header().Set("Connection", "close")
		}
		// Do not wait for the rest of a body nobody reads.
		http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	dw.extend()
}

// refuse answers a request with a body when every slot is taken.
func (h *handler) refuse(w http.ResponseWriter) {
	limited.WithLabelValues("max_body_requests").Inc()
	if h.warned.allow(time.Minute) {
		h.opts.Logger.Warn("http.max_body_requests reached: requests with a body are refused with 503; raise it if this is real traffic",
			"max_body_requests", h.opts.MaxBodyRequests)
	}
	msg, _ := json.Marshal(map[string]string{
		"error": fmt.Sprintf("too many requests sending a body at once (http.max_body_requests = %d): retry in a second, or raise http.max_body_requests", h.opts.MaxBodyRequests),
		"code":  "unavailable",
	})
	hd := w.Header()
	hd.Set("Connection", "close")
	hd.Set("Retry-After", "1")
	hd.Set("Content-Type", "application/json; charset=utf-8")
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write(append(msg, '\n'))
	rc.SetReadDeadline(time.Now()) // the unread body: close, do not wait
}

// countingBody notes whether the handler read the whole body.
type countingBody struct {
	io.ReadCloser
	want int64 // Content-Length, or -1 (chunked)
	read int64
	eof  bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *countingBody) done() bool { return b.eof || (b.want >= 0 && b.read >= b.want) }

// deadlineWriter keeps the connection's write deadline WriteTimeout ahead
// of the last write, moving it at most once per half timeout (a deadline
// is a timer update in the runtime; the pixel's answer moves it once).
type deadlineWriter struct {
	http.ResponseWriter
	timeout     time.Duration
	body        *countingBody // nil for requests without a body
	wroteHeader bool
	until       time.Time
	rc          *http.ResponseController
}

func (w *deadlineWriter) extend() {
	now := time.Now()
	if now.Add(w.timeout / 2).Before(w.until) {
		return
	}
	w.until = now.Add(w.timeout)
	if w.rc == nil {
		w.rc = http.NewResponseController(w.ResponseWriter)
	}
	w.rc.SetWriteDeadline(w.until)
}

func (w *deadlineWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.wroteHeader = true
		if w.body != nil && !w.body.done() {
			// Answering before the body is in: do not keep the connection
			// (net/http would otherwise read the rest of the body first).
			w.Header().Set("Connection", "close")
		}
		w.extend()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.extend()
	return w.ResponseWriter.Write(p)
}

func (w *deadlineWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if !w.wroteHeader {
			w.WriteHeader(http.StatusOK)
		}
		w.extend()
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// rateLimit lets a log line through at most once per interval.
type rateLimit struct{ last atomic.Int64 }

func (l *rateLimit) allow(every time.Duration) bool {
	now := time.Now().UnixNano()
	last := l.last.Load()
	return now-last >= int64(every) && l.last.CompareAndSwap(last, now)
}
