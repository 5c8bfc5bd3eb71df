package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// A server that refuses connections is waited for, not given up on at
// once; a DSN that cannot work fails at once.
func TestOpenWaitsForClickHouse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := time.Now()
	if _, err := openWhenUp(ctx, log, "clickhouse://"+addr+"/x", ""); err == nil || !unreachable(err) {
		t.Fatalf("open of a closed port: %v", err)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("gave up after %s, want it to retry until the context ends", took)
	}
	start = time.Now()
	if _, err := openWhenUp(context.Background(), log, "clickhouse://"+addr+"/bad-name", ""); err == nil || !strings.Contains(err.Error(), "bad-name") {
		t.Fatalf("open of a bad database name: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a bad database name was retried for %s", took)
	}
}

// serve started while ClickHouse is down collects events into the spool
// (acknowledged), answers everything else 503 with Retry-After and
// /readyz 503, and once ClickHouse answers it migrates, serves the rest
// and ships every acknowledged event.
func TestServeCollectsWhileClickHouseIsDown(t *testing.T) {
	e := newE2E(t)
	u, err := url.Parse(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	// ClickHouse behind a port nothing listens on yet (connections are
	// refused), forwarded to the test server later.
	gate := freeAddr(t)
	cfg, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	down := strings.Replace(e.dsn, u.Host, gate, 1)
	if err := os.WriteFile(e.cfgPath, bytes.Replace(cfg, []byte(e.dsn), []byte(down), 1), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"serve", "--config", e.cfgPath}, &logs, &logs) }()
	base := "http://" + e.addr
	waitStatus := func(path string, want int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			if resp, err := http.Get(base + path); err == nil {
				resp.Body.Close()
				if resp.StatusCode == want {
					return
				}
			}
			select {
			case code := <-done:
				t.Fatalf("serve exited %d:\n%s", code, logs.String())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not answer %d within %s:\n%s", path, want, within, logs.String())
			}
		}
	}
	waitStatus("/healthz", http.StatusOK, 30*time.Second)
	waitStatus("/readyz", http.StatusServiceUnavailable, time.Second)

	req, _ := http.NewRequest("GET", base+"/api/sites/e2e/products", nil)
	req.Header.Set("Authorization", "Bearer admin-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "unavailable") {
		t.Errorf("the admin API before ClickHouse answered %d (Retry-After %q): %s, want 503 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	e.sendBatch("down", 0, 50) // fails the test unless acknowledged

	// ClickHouse comes up.
	ln, err := net.Listen("tcp", gate)
	if err != nil {
		t.Fatal(err)
	}
	cut := forward(ln, u.Host)
	defer cut()
	waitStatus("/readyz", http.StatusOK, 3*time.Minute)
	e.sendBatch("up", 0, 50)
	e.waitCount(100, 30*time.Second)
	waitStatus("/api/sites/e2e/products?feed_token=x", http.StatusUnauthorized, time.Second) // served, not 503

	// ClickHouse goes away again: /readyz says so without its address (it
	// needs no token).
	cut()
	waitStatus("/readyz", http.StatusServiceUnavailable, 30*time.Second)
	resp, err = http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "ClickHouse does not answer") || strings.Contains(string(body), gate) {
		t.Errorf("/readyz with ClickHouse gone says %q, want it said without the address %s", body, gate)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d:\n%s", code, logs.String())
	}
}

// forward copies every connection ln accepts to and from target, until
// the returned cut closes ln and every connection.
func forward(ln net.Listener, target string) (cut func()) {
	var mu sync.Mutex
	var conns []net.Conn
	keep := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				keep(c)
				keep(s)
				go io.Copy(s, c)
				io.Copy(c, s)
			}()
		}
	}()
	return func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
}

// syncBuffer is a bytes.Buffer that serve's log and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
