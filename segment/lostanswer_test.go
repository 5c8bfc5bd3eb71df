package segment_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
)

// answerLosingProxy forwards TCP connections to a ClickHouse server's
// native port, and loses the answer to the first query that holds a given
// text: it forwards the query and, once the server has answered it with
// the insert's header, the data the client sends, but nothing the server
// says after that; a moment later it closes the connection. So the server
// has stored the rows and the client has an error, as when a connection
// breaks, or a server restarts, between the two. From then on it can
// also break every connection that sends a query holding another text.
type answerLosingProxy struct {
	ln             net.Listener
	to             string
	lose, thenFail []byte

	mu    sync.Mutex
	armed bool // the answer to lose was found
	cut   chan struct{}
}

// newAnswerLosingProxy proxies the server of dsn, losing the answer to
// the first query that holds lose, then breaking the connection of every
// query that holds thenFail (unless empty). It returns the proxy and a
// DSN that goes through it.
func newAnswerLosingProxy(t *testing.T, dsn, lose, thenFail string) (*answerLosingProxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &answerLosingProxy{ln: ln, to: u.Host, lose: []byte(lose), thenFail: []byte(thenFail), cut: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	u.Host = ln.Addr().String()
	return p, u.String()
}

// lost is closed once the proxy has lost an answer.
func (p *answerLosingProxy) lost() <-chan struct{} { return p.cut }

func (p *answerLosingProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.to)
		if err != nil {
			client.Close()
			continue
		}
		go p.pipe(client, server)
	}
}

// pipe forwards one connection. Within it, a query holding the text to
// lose arms the loss; the server's next bytes (the header of the insert)
// still go to the client; the client's next bytes (its rows) go to the
// server, and from then on the server's bytes are dropped, and the
// connection is closed half a second later, once the server has stored
// the rows.
func (p *answerLosingProxy) pipe(client, server net.Conn) {
	var mu sync.Mutex
	const (
		plain = iota
		armed
		headerSent
		losing
	)
	state := plain
	closeBoth := func() {
		client.Close()
		server.Close()
	}
	defer closeBoth()
	go func() { // server to client
		defer closeBoth()
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				mu.Lock()
				if state == armed {
					state = headerSent
				}
				drop := state == losing
				mu.Unlock()
				if !drop {
					if _, err := client.Write(buf[:n]); err != nil {
						return
					}
				}
			}
			if err != nil {
				return
			}
		}
	}()
	var seen []byte // the client's last read, after the end of the one before (a text may span two)
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			mu.Lock()
			switch state {
			case plain:
				seen = append(seen[max(0, len(seen)-64):], buf[:n]...)
				p.mu.Lock()
				if !p.armed && bytes.Contains(seen, p.lose) {
					p.armed, state, seen = true, armed, nil
				}
				fail := p.armed && state == plain && len(p.thenFail) > 0 && bytes.Contains(seen, p.thenFail)
				p.mu.Unlock()
				if fail {
					mu.Unlock()
					return
				}
			case headerSent:
				state = losing
				time.AfterFunc(500*time.Millisecond, func() {
					closeBoth()
					close(p.cut)
				})
			}
			mu.Unlock()
			if _, err := server.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// The answer to a run's switch can be lost after the server stored the
// switch (the connection breaks, or the server restarts, in between).
// Readers then read the run, so it must keep its rows: the run asks
// whether its switch landed and, finding it did, has succeeded. When it
// cannot even ask, it fails but keeps its rows, recorded finished, so
// readers read it whole, and the next run builds on it.
func TestASwitchWhoseAnswerIsLostKeepsTheRun(t *testing.T) {
	for _, questionFails := range []bool{false, true} {
		name := map[bool]string{false: "the run asks", true: "the question fails"}[questionFails]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dsn := chtest.DSN(t)
			db := openDSN(t, dsn)
			cfg := abandonConfig(t)
			e, _, t1 := aShop(t, db, cfg, 9)
			thenFail := ""
			if questionFails {
				thenFail = "FROM seg_current" // the run's question whether its switch landed
			}
			proxy, through := newAnswerLosingProxy(t, dsn, "INSERT INTO seg_current", thenFail)
			lossy := incrementalEngine(t, openDSN(t, through), cfg)
			lossy.Now = func() time.Time { return t1 }
			res, err := lossy.Run(ctx, site, segment.RunOptions{})
			select {
			case <-proxy.lost():
			default:
				t.Fatalf("the proxy lost no answer; the run ended with %v", err)
			}
			if questionFails {
				if err == nil || !strings.Contains(err.Error(), "cannot tell whether readers were switched to the run") {
					t.Fatalf("the run that could not ask whether its switch landed ended with %v", err)
				}
			} else if err != nil {
				t.Fatalf("the run failed though its switch landed: %v", err)
			}
			if cur, err := e.CurrentRun(ctx, site); err != nil || cur != res.RunID {
				t.Fatalf("the current run is %q (%v), want the run whose switch landed, %s", cur, err, res.RunID)
			}
			if status := runStatus(t, db, res.RunID); status != "ok" {
				t.Fatalf("the run whose switch landed is %q, want ok", status)
			}
			seen := readRun(t, cfg, db, res, t1)
			at := t1.Add(time.Hour)
			insertStored(t, db, traffic(rand.New(rand.NewPCG(17, 90)), names("v", 45, 55), 30, t1, at)...)
			next := incRun(t, e, at, false, segment.ModeIncremental)
			runcheck.Compare(t, readRun(t, cfg, db, next, at), readRun(t, cfg, db, incRun(t, e, at, true, segment.ModeFull), at))
			runcheck.Compare(t, seen, readRun(t, cfg, db, incRun(t, e, t1, true, segment.ModeFull), t1))
		})
	}
}
