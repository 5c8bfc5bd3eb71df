package httplimit_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/httplimit"
)

// rawRequest sends raw bytes on a new connection to srv.
func rawRequest(t *testing.T, srv *httptest.Server, raw string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return c
}

const slowPost = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"

func TestBodySlotsRefuseTheNextWithTheirKey(t *testing.T) {
	entered := make(chan struct{}, 1)
	srv := httptest.NewServer(httplimit.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" {
			entered <- struct{}{}
			io.ReadAll(r.Body) // a slow client: blocks
		}
		io.WriteString(w, "ok")
	}), httplimit.Options{MaxBodyRequests: 1, WriteTimeout: time.Second}))
	// Closed after the raw connections (cleanups run last first), so no
	// handler is left blocked on a body.
	t.Cleanup(srv.Close)

	rawRequest(t, srv, slowPost) // takes the only slot
	<-entered
	c := rawRequest(t, srv, slowPost)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "http.max_body_requests = 1") {
		t.Fatalf("over the limit: %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if !resp.Close {
		t.Fatal("the refused connection is kept open for its unread body")
	}

	// Requests without a body never wait for a slot.
	get, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if get.StatusCode != http.StatusOK {
		t.Fatalf("GET with every body slot taken: %d", get.StatusCode)
	}
}

func TestAnswerBeforeTheBodyClosesTheConnection(t *testing.T) {
	srv := httptest.NewServer(httplimit.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized) // never reads the body
	}), httplimit.Options{MaxBodyRequests: 4, WriteTimeout: time.Second}))
	// Closed after the raw connections (cleanups run last first), so no
	// handler is left blocked on a body.
	t.Cleanup(srv.Close)
	c := rawRequest(t, srv, slowPost)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no answer while the body is incomplete: %v", err)
	}
	io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("answer %d, close %v; want 401 and the connection closed", resp.StatusCode, resp.Close)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open after the answer: %v", err)
	}
}

func TestAClientThatStopsReadingIsCutOff(t *testing.T) {
	wrote := make(chan error, 1)
	srv := httptest.NewServer(httplimit.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				wrote <- err
				return
			}
		}
	}), httplimit.Options{MaxBodyRequests: 4, WriteTimeout: 200 * time.Millisecond}))
	// Closed after the raw connections (cleanups run last first), so no
	// handler is left blocked on a body.
	t.Cleanup(srv.Close)
	rawRequest(t, srv, "GET /feed HTTP/1.1\r\nHost: x\r\n\r\n") // and never read the answer
	select {
	case err := <-wrote:
		if !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("write failed with %v, want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write to a client that reads nothing was still blocked after 10s")
	}
}
