package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// configure appends top-level keys to the test's config file.
func (e *e2eEnv) configure(yaml string) {
	e.t.Helper()
	f, err := os.OpenFile(e.cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(yaml); err != nil {
		e.t.Fatal(err)
	}
}

// slowBody opens a connection that sends the headers of a collect request
// announcing a 1000-byte body, then one byte of it, and stays.
func slowBody(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, err = io.WriteString(c, "POST /v1/track HTTP/1.1\r\nHost: remarket\r\nContent-Type: application/json\r\n"+
		"Authorization: Basic d2tfZTJlOg==\r\nContent-Length: 1000\r\n\r\n{")
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// TestSlowBodiesLeaveHealthAndPixelAnswering is issue 18's slow-body
// attack, scaled down: a server limited to 400 open files, and 1,000
// clients that each send collect headers and one byte of a 1,000-byte
// body. Without limits they take every file descriptor and the server
// stops accepting anything, /healthz and /p.gif included.
func TestSlowBodiesLeaveHealthAndPixelAnswering(t *testing.T) {
	e := newE2E(t)
	e.configure("http: {max_connections: 200, max_body_requests: 50, read_timeout: 3s}\n")
	cmd := e.start()
	lim := unix.Rlimit{Cur: 400, Max: 400}
	if err := unix.Prlimit(cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatalf("cannot lower the server's open-file limit: %v", err)
	}

	const clients = 1000
	conns := make(chan net.Conn, clients)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range clients / 20 {
				if c, err := slowBody(e.addr); err == nil {
					conns <- c
				}
			}
		}()
	}
	wg.Wait()
	close(conns)
	var held []net.Conn
	for c := range conns {
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	t.Logf("%d slow clients connected", len(held))

	client := &http.Client{Timeout: 2 * time.Second}
	for _, path := range []string{"/healthz", "/p.gif?k=" + testWriteKey, "/healthz"} {
		start := time.Now()
		resp, err := client.Get("http://" + e.addr + path)
		if err != nil {
			t.Fatalf("GET %s with %d slow clients: %v", path, len(held), err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s answered %d", path, resp.StatusCode)
		}
		t.Logf("GET %s: %v", path, time.Since(start).Round(time.Millisecond))
	}

	// Clients over the limit were told which limit and key, and every
	// slow client is gone within read_timeout.
	refused, cut := 0, 0
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range held {
		c.SetReadDeadline(deadline)
		r := bufio.NewReader(c)
		status, err := r.ReadString('\n')
		if err != nil && !strings.Contains(err.Error(), "reset") && err != io.EOF {
			t.Fatalf("a slow client was still held after %v: %v", 10*time.Second, err)
		}
		switch {
		case strings.Contains(status, " 503 "):
			refused++
			if refused == 1 {
				rest, _ := io.ReadAll(r)
				if !strings.Contains(string(rest), "http.max_body_requests") {
					t.Errorf("the 503 does not name http.max_body_requests:\n%s%s", status, rest)
				}
			}
		case strings.Contains(status, " 408 ") || status == "":
			cut++
		default:
			t.Errorf("a slow client got %q", status)
		}
	}
	if refused == 0 {
		t.Fatal("no slow client was refused at http.max_body_requests")
	}
	t.Logf("%d refused at once, %d cut at read_timeout", refused, cut)
	e.sendBatch("after", 0, 10)
	e.waitCount(11, 20*time.Second) // and the pixel hit
}
