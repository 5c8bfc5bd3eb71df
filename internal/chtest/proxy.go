package chtest

import (
	"bytes"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// AnswerLosingProxy forwards TCP connections to a ClickHouse server's
// native port, and loses the answer to the first query that holds a given
// text: it forwards the query and, once the server has answered it with
// the insert's header, the data the client sends, but nothing the server
// says after that; a moment later it closes the connection. So the server
// has stored the rows and the client has an error, as when a connection
// breaks, or a server restarts, between the two. From then on it can
// also break every connection that sends a query holding another text.
type AnswerLosingProxy struct {
	ln             net.Listener
	to             string
	lose, thenFail []byte

	mu    sync.Mutex
	armed bool // the answer to lose was found
	cut   chan struct{}
}

// NewAnswerLosingProxy proxies the server of dsn, losing the answer to
// the first query that holds lose, then breaking the connection of every
// query that holds thenFail (unless empty). It returns the proxy and a
// DSN that goes through it.
func NewAnswerLosingProxy(t testing.TB, dsn, lose, thenFail string) (*AnswerLosingProxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &AnswerLosingProxy{ln: ln, to: u.Host, lose: []byte(lose), thenFail: []byte(thenFail), cut: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	u.Host = ln.Addr().String()
	return p, u.String()
}

// Lost is closed once the proxy has lost an answer.
func (p *AnswerLosingProxy) Lost() <-chan struct{} { return p.cut }

func (p *AnswerLosingProxy) serve() {
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
func (p *AnswerLosingProxy) pipe(client, server net.Conn) {
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
					// Lost first: the client sees the cut, asks again and
					// returns, which could all happen before this goroutine
					// ran again, and the test then found nothing lost.
					close(p.cut)
					closeBoth()
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
