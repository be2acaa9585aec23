package rediscache

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client timeouts of NewClient, unless the URL sets them. A Redis on the
// same network answers in well under a millisecond; waiting seconds for one
// that does not only adds the wait to a request that the read side can
// answer anyway.
const (
	ClientDialTimeout  = 250 * time.Millisecond
	ClientReadTimeout  = 250 * time.Millisecond
	ClientWriteTimeout = 250 * time.Millisecond
	ClientPoolTimeout  = 500 * time.Millisecond
)

// NewClient builds a client from a redis:// or rediss:// URL (see
// redis.ParseURL for its query options) with short timeouts and almost no
// retries: go-redis's defaults (5 s dial, 5 dial attempts, 3 command
// retries) would turn a dead Redis into seconds per request.
func NewClient(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("rediscache: redis url: %w", err)
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = ClientDialTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = ClientReadTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = ClientWriteTimeout
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = ClientPoolTimeout
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 1
	}
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 1
	}
	return redis.NewClient(opt), nil
}
