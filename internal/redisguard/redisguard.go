// Package redisguard keeps a Redis that is down from costing every request
// a timeout: after an error, Redis is skipped for a cooldown (a circuit
// breaker) and the caller falls back (the student cache to the read model,
// the login throttle to this replica's own count); the warnings are
// rate-limited so an outage does not flood the log. One mechanism for every
// Redis adapter.
package redisguard

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// Guard is safe for concurrent use; its zero counters are ready.
type Guard struct {
	cooldown, logEvery time.Duration
	now                func() time.Time
	log                *slog.Logger
	warning            string

	openUntil  atomic.Int64 // Redis is skipped until then (unix ns)
	lastLog    atomic.Int64
	suppressed atomic.Int64
}

// New returns a guard that skips Redis for cooldown after an error and logs
// warning (what the caller does instead) at most once per logEvery. now is
// the clock (nil: time.Now).
func New(cooldown, logEvery time.Duration, now func() time.Time, log *slog.Logger, warning string) *Guard {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Guard{cooldown: cooldown, logEvery: logEvery, now: now, log: log, warning: warning}
}

// Usable reports whether requests may go to Redis now.
func (g *Guard) Usable() bool { return g.now().UnixNano() >= g.openUntil.Load() }

// Failed records a Redis error of operation op: Redis is skipped for the
// cooldown, and a warning is logged unless one was within logEvery. A
// caller's cancelled context is not Redis's fault and opens nothing.
func (g *Guard) Failed(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	now := g.now()
	g.openUntil.Store(now.Add(g.cooldown).UnixNano())
	last := g.lastLog.Load()
	if now.UnixNano()-last < int64(g.logEvery) || !g.lastLog.CompareAndSwap(last, now.UnixNano()) {
		g.suppressed.Add(1)
		return
	}
	g.log.Warn(g.warning, "op", op, "err", fmt.Sprint(err), "skip_for", g.cooldown,
		"suppressed_since_last_warning", g.suppressed.Swap(0))
}
