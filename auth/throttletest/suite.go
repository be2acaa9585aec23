// Package throttletest is the behaviour every auth.LoginThrottle must
// have, as one suite: the in-process throttle (auth) and the Redis one
// (auth/redisthrottle) run the same scenarios, so they cannot drift apart.
package throttletest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/domain"
)

// Scenario is a named sequence of steps on a throttle with cfg.
type Scenario struct {
	Name  string
	Cfg   auth.ThrottleConfig
	Steps []Step
}

// Clock is a manual clock for the scenarios (pass Now as the throttle's).
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Start is the clock every scenario starts at.
func Start() *Clock { return &Clock{t: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Run plays every scenario on a fresh throttle from newThrottle, which
// must use cfg (its Now included).
func Run(t *testing.T, newThrottle func(t *testing.T, cfg auth.ThrottleConfig) auth.LoginThrottle) {
	t.Helper()
	for _, sc := range Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			clk := Start()
			cfg := sc.Cfg
			cfg.Now = clk.Now
			th := newThrottle(t, cfg)
			Play(t, sc.Steps, clk, func(int) auth.LoginThrottle { return th })
		})
	}
}

// Step is one moment of a scenario: move the clock, fail, succeed, check.
type Step struct {
	advance   time.Duration
	account   string // default "a@example.com"
	fail      int
	succeed   bool
	check     bool
	wantRetry time.Duration
}

// Scenarios are the behaviour every LoginThrottle has.
var Scenarios = []Scenario{
	{"below the limit is not locked", auth.ThrottleConfig{}, []Step{{fail: 4}, {check: true}}},
	{"fifth failure locks for the base lockout", auth.ThrottleConfig{}, []Step{
		{fail: 5}, {check: true, wantRetry: time.Minute},
		{advance: 20 * time.Second, check: true, wantRetry: 40 * time.Second},
		{advance: 40 * time.Second, check: true},
	}},
	{"each further failure doubles the lockout up to the cap", auth.ThrottleConfig{}, []Step{
		{fail: 5},
		{advance: time.Minute, fail: 1}, {check: true, wantRetry: 2 * time.Minute},
		{advance: 2 * time.Minute, fail: 1}, {check: true, wantRetry: 4 * time.Minute},
		{advance: 4 * time.Minute, fail: 1}, {check: true, wantRetry: 8 * time.Minute},
		{advance: 8 * time.Minute, fail: 1}, {check: true, wantRetry: 15 * time.Minute},
		{advance: 15 * time.Minute, fail: 1}, {check: true, wantRetry: 15 * time.Minute},
	}},
	{"failures while locked extend the lock", auth.ThrottleConfig{}, []Step{{fail: 6}, {check: true, wantRetry: 2 * time.Minute}}},
	{"success resets", auth.ThrottleConfig{}, []Step{
		{fail: 4}, {succeed: true}, {fail: 4}, {check: true}, {fail: 1}, {check: true, wantRetry: time.Minute},
	}},
	{"failures older than the window are forgotten", auth.ThrottleConfig{}, []Step{
		{fail: 4}, {advance: 15 * time.Minute, fail: 1}, {check: true},
	}},
	{"the window restarts at each failure", auth.ThrottleConfig{}, []Step{
		{fail: 2}, {advance: 10 * time.Minute, fail: 2}, {advance: 10 * time.Minute, fail: 1}, {check: true, wantRetry: time.Minute},
	}},
	{"history outlives a capped lockout by one window", auth.ThrottleConfig{}, []Step{
		{fail: 9}, {check: true, wantRetry: 15 * time.Minute},
		{advance: 15*time.Minute + 14*time.Minute, fail: 1}, {check: true, wantRetry: 15 * time.Minute},
	}},
	{"history is forgotten one window after the lock ends", auth.ThrottleConfig{}, []Step{
		{fail: 5}, {advance: time.Minute + 15*time.Minute, fail: 1}, {check: true},
	}},
	{"accounts are independent", auth.ThrottleConfig{}, []Step{
		{fail: 5}, {account: "b@example.com", check: true},
	}},
	{"account keys are normalised", auth.ThrottleConfig{}, []Step{
		{account: "  A@Example.COM ", fail: 3}, {account: "a@example.com", fail: 2},
		{account: "A@EXAMPLE.COM", check: true, wantRetry: time.Minute},
		{account: " a@example.com", succeed: true}, {check: true},
	}},
	{"custom config", auth.ThrottleConfig{MaxFailures: 2, Window: time.Minute, Lockout: 10 * time.Second, MaxLockout: 30 * time.Second}, []Step{
		{fail: 2}, {check: true, wantRetry: 10 * time.Second},
		{fail: 1}, {check: true, wantRetry: 20 * time.Second},
		{fail: 5}, {check: true, wantRetry: 30 * time.Second},
	}},
	{"a device key is counted apart from its account", auth.ThrottleConfig{}, []Step{
		{fail: 7}, {check: true, wantRetry: 4 * time.Minute},
		{account: "device:d1:a@example.com", check: true},
		{account: "device:d1:a@example.com", fail: 5}, {account: "device:d1:a@example.com", check: true, wantRetry: time.Minute},
		{account: "device:d2:a@example.com", check: true},
		{account: "device:d1:a@example.com", advance: 4 * time.Minute, check: true},
		{check: true},
	}},
}

// Play plays a scenario; pick chooses the throttle of each step (one
// instance, or alternating replicas).
func Play(t *testing.T, steps []Step, clk *Clock, pick func(i int) auth.LoginThrottle) {
	t.Helper()
	ctx := context.Background()
	for i, s := range steps {
		clk.Advance(s.advance)
		acct := s.account
		if acct == "" {
			acct = "a@example.com"
		}
		for j := range s.fail {
			pick(i+j).Failed(ctx, acct)
		}
		if s.succeed {
			pick(i).Succeeded(ctx, acct)
		}
		if !s.check {
			continue
		}
		err := pick(i).Check(ctx, acct)
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
}
