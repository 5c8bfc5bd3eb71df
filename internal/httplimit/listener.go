package httplimit

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// fileReserve is how many open files a process keeps for everything but
// client connections: spool segments, ClickHouse connections, the feed
// cache, logs.
const fileReserve = 256

// ConnectionLimit is want, lowered when the process may not open that many
// files besides fileReserve (a connection that cannot be accepted for
// want of a file descriptor stalls every other one, and the spool and
// ClickHouse need theirs). The note says why it was lowered, or is "".
func ConnectionLimit(want int) (int, string) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY {
		return want, ""
	}
	if room := int64(lim.Cur) - fileReserve; room < int64(want) {
		room = max(room, 2)
		return int(room), fmt.Sprintf("http.max_connections lowered from %d to %d: the process may open only %d files (ulimit -n), %d of them kept for the spool and ClickHouse; raise the open-file limit", want, room, lim.Cur, fileReserve)
	}
	return want, ""
}

// Listener caps the open connections accepted from l at max. At the cap
// Accept first closes the keep-alive connection idle the longest (known
// through ConnState, which the http.Server must call), and otherwise
// waits until a connection closes, leaving new ones in the kernel's
// queue (which bounds them too); each time the cap is met it is counted,
// and logged at most once a minute with the key that raises it.
func Listener(l net.Listener, max int, log *slog.Logger) *Limited {
	if log == nil {
		log = slog.Default()
	}
	return &Limited{Listener: l, max: max, log: log, sem: make(chan struct{}, max), done: make(chan struct{}),
		idle: map[*conn]time.Time{}, idled: make(chan struct{}, 1)}
}

// Limited is the listener Listener returns.
type Limited struct {
	net.Listener
	max    int
	log    *slog.Logger
	sem    chan struct{}
	done   chan struct{}
	closed sync.Once
	warned rateLimit

	mu    sync.Mutex
	idle  map[*conn]time.Time // keep-alive connections waiting for a request, since when
	idled chan struct{}       // a connection went idle
}

// ConnState is the http.Server's ConnState hook: it tells the listener
// which connections sit idle between requests. Without it, idle
// keep-alive connections would hold their slots until http.idle_timeout,
// and a client keeping many open (one request every idle_timeout is
// enough) would leave new ones waiting with no answer.
func (l *Limited) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if state == http.StateIdle {
		l.idle[c] = time.Now()
		select {
		case l.idled <- struct{}{}: // an Accept waiting at the cap may close it
		default:
		}
	} else {
		delete(l.idle, c)
	}
}

// takeSlot takes a connection's slot. At the cap it closes the connection
// idle the longest, or waits until one closes or goes idle; false when
// the listener was closed meanwhile.
func (l *Limited) takeSlot() bool {
	select {
	case l.sem <- struct{}{}:
		return true
	default:
	}
	limited.WithLabelValues("max_connections").Inc()
	for {
		if !l.closeIdle() && l.warned.allow(time.Minute) {
			l.log.Warn("http.max_connections reached: new connections wait until one closes; raise http.max_connections (and the open-file limit) or add instances",
				"max_connections", l.max)
		}
		select {
		case l.sem <- struct{}{}:
			return true
		case <-l.idled:
		case <-l.done:
			return false
		}
	}
}

// closeIdle closes the connection idle the longest, and says whether
// there was one. Closing an idle keep-alive connection is what a server
// may always do; a client that was about to reuse it opens another.
func (l *Limited) closeIdle() bool {
	l.mu.Lock()
	var oldest *conn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	delete(l.idle, oldest)
	l.mu.Unlock()
	if oldest == nil {
		return false
	}
	oldest.Close()
	return true
}

func (l *Limited) Accept() (net.Conn, error) {
	if !l.takeSlot() {
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	openConnections.Inc()
	return &conn{Conn: c, l: l}, nil
}

func (l *Limited) Close() error {
	l.closed.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// conn gives its slot back once, on its first Close.
type conn struct {
	net.Conn
	l        *Limited
	released sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.released.Do(func() {
		c.l.mu.Lock()
		delete(c.l.idle, c)
		c.l.mu.Unlock()
		<-c.l.sem
		openConnections.Dec()
	})
	return err
}
