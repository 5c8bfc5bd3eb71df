// Package httpx is remarket's shared HTTP plumbing: one error type whose
// codes map to statuses in one place, and the token checks of the admin
// and feed APIs.
package httpx

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/chdb"
)

// Code classifies an error for the client.
type Code string

const (
	Invalid      Code = "invalid"      // 400
	Unauthorized Code = "unauthorized" // 401
	Forbidden    Code = "forbidden"    // 403
	NotFound     Code = "not_found"    // 404
	Timeout      Code = "timeout"      // 408
	Conflict     Code = "conflict"     // 409
	TooLarge     Code = "too_large"    // 413
	Unsupported  Code = "unsupported"  // 415
	TooMany      Code = "too_many"     // 429
	Unavailable  Code = "unavailable"  // 503
	Internal     Code = "internal"     // 500
)

var statuses = map[Code]int{
	Invalid:      http.StatusBadRequest,
	Unauthorized: http.StatusUnauthorized,
	Forbidden:    http.StatusForbidden,
	NotFound:     http.StatusNotFound,
	Timeout:      http.StatusRequestTimeout,
	Conflict:     http.StatusConflict,
	TooLarge:     http.StatusRequestEntityTooLarge,
	Unsupported:  http.StatusUnsupportedMediaType,
	TooMany:      http.StatusTooManyRequests,
	Unavailable:  http.StatusServiceUnavailable,
	Internal:     http.StatusInternalServerError,
}

// Error is an error meant for the client: its message is shown as is.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf builds a client-facing error.
func Errorf(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Status maps an error to its HTTP status; unknown errors are 500.
func Status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		if s, ok := statuses[e.Code]; ok {
			return s
		}
	}
	return http.StatusInternalServerError
}

// unavailableRetry is the Retry-After of a 503 while ClickHouse cannot
// serve (seconds).
const unavailableRetry = "10"

// Fail answers err as {"error": message}. Errors that are not *Error are
// logged in full and shown to the client only as "internal error", but
// for ClickHouse being unreachable or unable to serve (chdb.IsUnavailable:
// every node down, a shard without a replica, read-only tables without
// ZooKeeper), which is 503 with Retry-After: the request may succeed
// later.
func Fail(c *gin.Context, err error) {
	var e *Error
	if errors.As(err, &e) {
		c.AbortWithStatusJSON(Status(err), gin.H{"error": e.Message, "code": e.Code})
		return
	}
	if chdb.IsUnavailable(err) {
		slog.Warn("request failed: clickhouse unavailable", "method", c.Request.Method, "path", c.FullPath(), "err", err)
		c.Header("Retry-After", unavailableRetry)
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "ClickHouse is unavailable; try again later", "code": Unavailable})
		return
	}
	slog.Error("request failed", "method", c.Request.Method, "path", c.FullPath(), "err", err)
	c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error", "code": Internal})
}
