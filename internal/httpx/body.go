package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
)

// LimitBody bounds the request's body to limit bytes. Reading past it
// fails with an error that BodyError turns into a 413 naming the limit,
// and the server closes the connection instead of draining the rest.
func LimitBody(c *gin.Context, limit int64) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
}

// ReadBody reads a request body of at most limit bytes; the error is
// meant for the client (413 naming the limit, or 400).
func ReadBody(c *gin.Context, limit int64) ([]byte, error) {
	LimitBody(c, limit)
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		if e := BodyError(err); e != nil {
			return nil, e
		}
		return nil, Errorf(Invalid, "cannot read body")
	}
	return body, nil
}

// BodyError is the client's answer to a failed read of a body limited by
// LimitBody: 413 naming the limit when the body was too long, else nil
// for errors that are not about the size (the caller words those).
func BodyError(err error) *Error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return Errorf(TooLarge, fmt.Sprintf("request body over %d bytes", tooLarge.Limit))
	}
	return nil
}
