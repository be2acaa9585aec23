package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/examhall/exam/commands"
	"github.com/gin-gonic/gin"
)

// ifMatchContextKey holds the parsed If-Match version (*int64).
const ifMatchContextKey = "api.if_match"

// preconditions parses If-Match on every mutating request before any
// handler runs, so a malformed one is answered 412 in one place and no
// handler can forget to check it: meta only reads the parsed value.
func preconditions(c *gin.Context) {
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Next()
		return
	}
	if im := c.GetHeader("If-Match"); im != "" && im != "*" {
		v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(im, "W/"), `"`), 10, 64)
		if err != nil {
			Abort(c, NewAPIError(http.StatusPreconditionFailed, "precondition_failed", "If-Match must be a quoted exam version"))
			return
		}
		c.Set(ifMatchContextKey, &v)
	}
	c.Next()
}

// meta is the command context of a request: its actor, request id,
// Idempotency-Key and the If-Match version preconditions parsed.
func (s *Server) meta(c *gin.Context) commands.Meta {
	m := commands.Meta{Actor: actorFrom(c), RequestID: RequestIDFrom(c), IdempotencyKey: c.GetHeader("Idempotency-Key")}
	if v, ok := c.Get(ifMatchContextKey); ok {
		m.IfMatch, _ = v.(*int64)
	}
	return m
}
