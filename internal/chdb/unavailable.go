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
// ZooKeeper) and ALL_REPLICAS_ARE_STALE.
var unavailableCodes = map[int32]bool{209: true, 210: true, 242: true, 279: true, 369: true}

// IsUnavailable reports an error that says ClickHouse cannot be reached
// or cannot serve now (the request may succeed later), rather than that
// the request is wrong: refused or broken connections, and the
// exceptions above.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return unavailableCodes[ex.Code]
	}
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, sqldriver.ErrBadConn) ||
		errors.Is(err, clickhouse.ErrAcquireConnTimeout)
}
