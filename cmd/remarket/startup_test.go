package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
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
