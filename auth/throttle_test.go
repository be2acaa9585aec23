package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
)

// throttleStep is one action in a throttle scenario: advance the clock, then
// record a failure or success, or check and expect a lock of the given length
// (0 = not locked).
type throttleStep struct {
	advance   time.Duration
	account   string // default "a@example.com"
	fail      int    // number of failures to record
	succeed   bool
	check     bool
	wantRetry time.Duration
}

func TestMemoryLoginThrottle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   ThrottleConfig
		steps []throttleStep
	}{
		{
			name: "below the limit is not locked",
			steps: []throttleStep{
				{fail: 4},
				{check: true, wantRetry: 0},
			},
		},
		{
			name: "fifth failure locks for the base lockout",
			steps: []throttleStep{
				{fail: 5},
				{check: true, wantRetry: time.Minute},
				{advance: 20 * time.Second, check: true, wantRetry: 40 * time.Second},
				{advance: 40 * time.Second, check: true, wantRetry: 0},
			},
		},
		{
			name: "each further failure doubles the lockout up to the cap",
			steps: []throttleStep{
				{fail: 5},
				{advance: time.Minute, fail: 1},
				{check: true, wantRetry: 2 * time.Minute},
				{advance: 2 * time.Minute, fail: 1},
				{check: true, wantRetry: 4 * time.Minute},
				{advance: 4 * time.Minute, fail: 1},
				{check: true, wantRetry: 8 * time.Minute},
				{advance: 8 * time.Minute, fail: 1},
				{check: true, wantRetry: 15 * time.Minute},
				{advance: 15 * time.Minute, fail: 1},
				{check: true, wantRetry: 15 * time.Minute},
			},
		},
		{
			name: "failures while locked extend the lock",
			steps: []throttleStep{
				{fail: 6},
				{check: true, wantRetry: 2 * time.Minute},
			},
		},
		{
			name: "success resets",
			steps: []throttleStep{
				{fail: 4},
				{succeed: true},
				{fail: 4},
				{check: true, wantRetry: 0},
				{fail: 1},
				{check: true, wantRetry: time.Minute},
			},
		},
		{
			name: "failures older than the window are forgotten",
			steps: []throttleStep{
				{fail: 4},
				{advance: 15 * time.Minute, fail: 1},
				{check: true, wantRetry: 0},
			},
		},
		{
			name: "the window restarts at each failure",
			steps: []throttleStep{
				{fail: 2},
				{advance: 10 * time.Minute, fail: 2},
				{advance: 10 * time.Minute, fail: 1},
				{check: true, wantRetry: time.Minute},
			},
		},
		{
			name: "history outlives a capped lockout by one window",
			steps: []throttleStep{
				{fail: 9},
				{check: true, wantRetry: 15 * time.Minute},
				{advance: 15*time.Minute + 14*time.Minute, fail: 1},
				{check: true, wantRetry: 15 * time.Minute},
			},
		},
		{
			name: "history is forgotten one window after the lock ends",
			steps: []throttleStep{
				{fail: 5},
				{advance: time.Minute + 15*time.Minute, fail: 1},
				{check: true, wantRetry: 0},
			},
		},
		{
			name: "accounts are independent",
			steps: []throttleStep{
				{fail: 5},
				{account: "b@example.com", check: true, wantRetry: 0},
			},
		},
		{
			name: "account keys are normalised",
			steps: []throttleStep{
				{account: "  A@Example.COM ", fail: 3},
				{account: "a@example.com", fail: 2},
				{account: "A@EXAMPLE.COM", check: true, wantRetry: time.Minute},
				{account: " a@example.com", succeed: true},
				{check: true, wantRetry: 0},
			},
		},
		{
			name: "custom config",
			cfg:  ThrottleConfig{MaxFailures: 2, Window: time.Minute, Lockout: 10 * time.Second, MaxLockout: 30 * time.Second},
			steps: []throttleStep{
				{fail: 2},
				{check: true, wantRetry: 10 * time.Second},
				{fail: 1},
				{check: true, wantRetry: 20 * time.Second},
				{fail: 5},
				{check: true, wantRetry: 30 * time.Second},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: tokenTestNow}
			cfg := tt.cfg
			cfg.Now = clock.Now
			th := NewMemoryLoginThrottle(cfg)
			ctx := context.Background()
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				acct := s.account
				if acct == "" {
					acct = "a@example.com"
				}
				for range s.fail {
					th.Failed(ctx, acct)
				}
				if s.succeed {
					th.Succeeded(ctx, acct)
				}
				if !s.check {
					continue
				}
				err := th.Check(ctx, acct)
				if s.wantRetry == 0 {
					if err != nil {
						t.Fatalf("step %d: Check = %v, want nil", i, err)
					}
					continue
				}
				var rl *domain.RateLimitedError
				if !errors.As(err, &rl) || !errors.Is(err, domain.ErrRateLimited) {
					t.Fatalf("step %d: Check = %v, want *domain.RateLimitedError", i, err)
				}
				if rl.RetryAfter != s.wantRetry {
					t.Fatalf("step %d: RetryAfter = %v, want %v", i, rl.RetryAfter, s.wantRetry)
				}
			}
		})
	}
}

func TestMemoryLoginThrottleBoundedMemory(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: tokenTestNow}
	th := NewMemoryLoginThrottle(ThrottleConfig{MaxEntries: 3, Now: clock.Now})
	ctx := context.Background()
	for range 5 {
		th.Failed(ctx, "locked@example.com")
	}
	for i := range 3 {
		clock.Advance(time.Second)
		th.Failed(ctx, fmt.Sprintf("u%d@example.com", i))
		if th.Len() > 3 {
			t.Fatalf("Len = %d, want <= 3", th.Len())
		}
	}
	// The oldest entry (the locked account) was evicted.
	if err := th.Check(ctx, "locked@example.com"); err != nil {
		t.Fatalf("oldest entry should have been evicted, Check = %v", err)
	}
	// Expired entries are dropped first.
	clock.Advance(time.Hour)
	th.Failed(ctx, "new@example.com")
	if th.Len() != 1 {
		t.Fatalf("expired entries should be purged, Len = %d", th.Len())
	}
}

func TestMemoryLoginThrottleConcurrent(t *testing.T) {
	t.Parallel()
	th := NewMemoryLoginThrottle(ThrottleConfig{MaxEntries: 50})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				acct := fmt.Sprintf("user%d@example.com", (g*200+i)%70)
				_ = th.Check(ctx, acct)
				th.Failed(ctx, acct)
				if i%10 == 0 {
					th.Succeeded(ctx, acct)
				}
			}
		})
	}
	wg.Wait()
	if th.Len() > 50 {
		t.Fatalf("Len = %d, want <= 50", th.Len())
	}
}
