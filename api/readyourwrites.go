package api

import (
	"context"
	"strconv"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

// Read-your-writes bounds.
const (
	// readYourWritesWait is how long a request waits for the read models to
	// reach a position the log has.
	readYourWritesWait = 5 * time.Second
	// headGrace covers a position a command just returned that the log's
	// head does not show yet: PostgreSQL's head stops below the oldest
	// transaction still in flight, which commits within milliseconds.
	headGrace = 250 * time.Millisecond
)

// readYourWrites waits, when the client sends X-Min-Position (a position a
// command response gave it), until the read models have caught up with
// it, for at most five seconds. A position the log has not reached is no
// reason to wait: it is 400 at once.
func (s *Server) readYourWrites(c *gin.Context) {
	h := c.GetHeader("X-Min-Position")
	if h == "" || s.watermark == nil {
		c.Next()
		return
	}
	pos, err := strconv.ParseUint(h, 10, 64)
	if err != nil {
		Abort(c, validationFailed(map[string]string{"X-Min-Position": "must be a non-negative integer"}))
		return
	}
	ctx := c.Request.Context()
	if s.head != nil {
		reached, err := s.logReached(ctx, pos)
		if err != nil {
			Abort(c, err)
			return
		}
		if !reached {
			Abort(c, validationFailed(map[string]string{"X-Min-Position": "is beyond the end of the event log"}))
			return
		}
	}
	wctx, cancel := context.WithTimeout(ctx, readYourWritesWait)
	err = s.watermark.WaitPublished(wctx, pos)
	cancel()
	if err != nil && ctx.Err() == nil {
		Abort(c, domain.ErrUnavailable)
		return
	}
	c.Next()
}

// logReached reports whether the event log has a position, allowing
// headGrace for a head that lags a just-committed append.
func (s *Server) logReached(ctx context.Context, pos uint64) (bool, error) {
	deadline := time.Now().Add(headGrace)
	for {
		head, err := s.head.Head(ctx)
		if err != nil {
			return false, err
		}
		if pos <= head {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// setPosition tells the client where its command landed.
func setPosition(c *gin.Context, pos uint64) {
	if pos > 0 {
		c.Header("X-Event-Position", strconv.FormatUint(pos, 10))
	}
}
