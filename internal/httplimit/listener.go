package httplimit

import (
	"fmt"
	"log/slog"
	"net"
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
// Accept waits until a connection closes, leaving new ones in the
// kernel's queue (which bounds them too); each time that starts it is
// counted, and logged at most once a minute with the key that raises it.
func Listener(l net.Listener, max int, log *slog.Logger) net.Listener {
	if log == nil {
		log = slog.Default()
	}
	return &listener{Listener: l, max: max, log: log, sem: make(chan struct{}, max), done: make(chan struct{})}
}

type listener struct {
	net.Listener
	max    int
	log    *slog.Logger
	sem    chan struct{}
	done   chan struct{}
	closed sync.Once
	warned rateLimit
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		limited.WithLabelValues("max_connections").Inc()
		if l.warned.allow(time.Minute) {
			l.log.Warn("http.max_connections reached: new connections wait until one closes; raise http.max_connections (and the open-file limit) or add instances",
				"max_connections", l.max)
		}
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	openConnections.Inc()
	return &conn{Conn: c, l: l}, nil
}

func (l *listener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// conn gives its slot back once, on its first Close.
type conn struct {
	net.Conn
	l        *listener
	released sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.released.Do(func() {
		<-c.l.sem
		openConnections.Dec()
	})
	return err
}
