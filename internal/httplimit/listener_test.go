package httplimit_test

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/httplimit"
)

func TestListenerHoldsConnectionsAtTheCap(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := httplimit.Listener(inner, 2, nil)
	defer l.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted at a cap of 2")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	first.Close() // a second Close must not free another slot
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting connection was not accepted once one closed")
	}
	second.Close()
}

func TestConnectionLimitStaysBelowTheOpenFileLimit(t *testing.T) {
	if n, note := httplimit.ConnectionLimit(1 << 40); n >= 1<<40 || note == "" {
		t.Fatalf("ConnectionLimit(2^40) = %d, %q; want it lowered with a note", n, note)
	}
	if n, note := httplimit.ConnectionLimit(2); n != 2 || note != "" {
		t.Fatalf("ConnectionLimit(2) = %d, %q", n, note)
	}
}

// At the cap a keep-alive connection idle between requests makes room for
// a new one; a connection in the middle of a request does not.
func TestAnIdleConnectionMakesRoomAtTheCap(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := httplimit.Listener(inner, 1, nil)
	release := make(chan struct{})
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-release
			}
			io.WriteString(w, "ok")
		}),
		IdleTimeout: time.Minute, // far longer than the test waits
		ConnState:   l.ConnState,
	}
	go srv.Serve(l)
	defer srv.Close()
	url := "http://" + inner.Addr().String()
	get := func(c *http.Client, path string) error {
		resp, err := c.Get(url + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		return err
	}
	client := func() *http.Client { return &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second} }

	keeper := client() // keeps its connection open, idle, after the request
	if err := get(keeper, "/"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- get(client(), "/") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a new connection waited behind an idle keep-alive one at the cap")
	}

	busy := make(chan error, 1)
	go func() { busy <- get(client(), "/slow") }()
	time.Sleep(200 * time.Millisecond) // the slow request holds the only slot
	go func() { done <- get(client(), "/") }()
	select {
	case err := <-done:
		t.Fatalf("a connection in the middle of a request was closed for a new one (%v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	close(release)
	if err := <-busy; err != nil {
		t.Fatalf("the slow request: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the waiting request once the slow one ended: %v", err)
	}
}
