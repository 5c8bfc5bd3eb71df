package chdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// A refused connection, a node that does not answer and errors joining
// only such are "unavailable"; a joined error with any other cause, or a
// server's complaint about the query, is not.
func TestIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	refused := conn.Ping(context.Background())
	if refused == nil {
		t.Fatalf("ping of %s succeeded", addr)
	}
	query := &clickhouse.Exception{Code: 60, Message: "Table rm.nope doesn't exist"}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{refused, true},
		{fmt.Errorf("cannot read the current segment run: %w", refused), true},
		{fmt.Errorf("no replica of shard 2: %w", errors.Join(fmt.Errorf("h1: %w", ErrNodeDown), fmt.Errorf("h2: %w", refused))), true},
		{&clickhouse.Exception{Code: 242, Message: "Table is in readonly mode"}, true},
		{query, false},
		{fmt.Errorf("no replica of shard 2: %w", errors.Join(fmt.Errorf("h1: %w", ErrNodeDown), fmt.Errorf("h2: %w", query))), false},
		{errors.New("bad"), false},
		{nil, false},
	} {
		if got := IsUnavailable(c.err); got != c.want {
			t.Errorf("IsUnavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
