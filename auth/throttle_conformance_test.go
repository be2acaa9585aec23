package auth_test

import (
	"testing"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/auth/throttletest"
)

// TestMemoryThrottleConformance: the behaviour every LoginThrottle has (the
// Redis throttle runs the same suite).
func TestMemoryThrottleConformance(t *testing.T) {
	t.Parallel()
	throttletest.Run(t, func(_ *testing.T, cfg auth.ThrottleConfig) auth.LoginThrottle {
		return auth.NewMemoryLoginThrottle(cfg)
	})
}
