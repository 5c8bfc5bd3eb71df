package chdb

import (
	"errors"
	"io"
	"net"
	"syscall"

	sqldriver "database/sql/driver"
	"github.com/ClickHouse/clickhouse-go/v2"
)

// unavailableCodes are ClickHouse's exceptions for a server or cluster
// that cannot serve now, whatever the query: NETWORK_ERROR,
// SOCKET_TIMEOUT, ALL_CONNECTION_TRIES_FAILED (a Distributed query found
// no replica of a shard), TABLE_IS_READ_ONLY (a replicated table without
// ZooKeeper), NO_ACTIVE_REPLICAS and LEADERSHIP_CHANGED (a shard whose
// replicas just restarted) and ALL_REPLICAS_ARE_STALE.
var unavailableCodes = map[int32]bool{209: true, 210: true, 242: true, 254: true, 279: true, 292: true, 369: true}

// ErrNotConnected is a ClickHouse not reached yet by a process that
// serves what it can without it (serve starting during an outage).
var ErrNotConnected = errors.New("not connected to ClickHouse yet")

// IsUnavailable reports an error that says ClickHouse cannot be reached
// or cannot serve now (the request may succeed later), rather than that
// the request is wrong: refused or broken connections, a cluster node
// that does not answer (ErrNodeDown), a process not connected yet
// (ErrNotConnected), and the exceptions above. An
// error joining several says so when each of them does.
func IsUnavailable(err error) bool {
	switch x := err.(type) {
	case nil:
		return false
	case interface{ Unwrap() []error }:
		errs := x.Unwrap()
		for _, e := range errs {
			if !IsUnavailable(e) {
				return false
			}
		}
		return len(errs) > 0
	case *clickhouse.Exception:
		return unavailableCodes[x.Code]
	case *net.OpError:
		return true
	}
	switch err {
	case ErrNodeDown, ErrNotConnected, syscall.ECONNREFUSED, syscall.ECONNRESET, io.EOF, io.ErrUnexpectedEOF, sqldriver.ErrBadConn, clickhouse.ErrAcquireConnTimeout:
		return true
	}
	return IsUnavailable(errors.Unwrap(err))
}
