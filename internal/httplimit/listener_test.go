package httplimit_test

import (
	"net"
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
