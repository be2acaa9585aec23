package cassandra

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// defaultLeaseTTL is how long a leader's lease lives without renewal: a
// dead leader's role is taken over within about that long.
const defaultLeaseTTL = 10 * time.Second

// Lead runs fn while this process holds the named leadership: a lease row
// in leases written by a lightweight transaction with a TTL (INSERT … IF
// NOT EXISTS USING TTL), renewed every TTL/3 by another one conditional on
// still owning it (UPDATE … USING TTL … IF owner = me). When the holder
// dies its row expires and a waiting process takes it. fn's context ends
// when ctx ends, when a renewal finds the lease owned by another, or when
// no renewal succeeded for TTL minus a margin, counted from when the last
// successful renewal was sent, so before the row can expire and anyone
// else can take it: two leaders never run at once. Lead waits for the
// lease until ctx ends, and returns fn's error (or why it lost the lease).
func (s *Store) Lead(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	if err := s.check(); err != nil {
		return err
	}
	ttl := s.leaseTTL
	if ttl == 0 {
		ttl = defaultLeaseTTL
	}
	ttlSec := int(ttl / time.Second)
	owner := uuid.NewString()
	for {
		sent := time.Now()
		applied, err := s.q(ctx, `INSERT INTO leases (name, owner) VALUES (?, ?) IF NOT EXISTS USING TTL ?`, name, owner, ttlSec).
			MapScanCAS(map[string]any{})
		if err == nil && applied {
			return s.runLeader(ctx, name, owner, ttl, sent, fn)
		}
		if err != nil {
			s.log.Warn("cassandra: lease request failed", "role", name, "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return fmt.Errorf("cassandra: lead %s: %w", name, errClosedStore)
		case <-time.After(ttl / 4):
		}
	}
}

var errClosedStore = fmt.Errorf("store closed")

func (s *Store) runLeader(ctx context.Context, name, owner string, ttl time.Duration, held time.Time, fn func(context.Context) error) error {
	s.log.Info("leadership taken", "role", name)
	leadCtx, cancel := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		// Cassandra counts a TTL from the write's second, not its instant:
		// the row may expire up to a second before sent+TTL.
		margin := ttl/5 + time.Second
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			expires := held.Add(ttl - margin)
			select {
			case <-leadCtx.Done():
				return
			case <-s.done:
				cancel(fmt.Errorf("cassandra: lead %s: %w", name, errClosedStore))
				return
			case <-time.After(time.Until(expires)):
				cancel(fmt.Errorf("cassandra: lead %s: lease not renewed in time", name))
				return
			case <-tick.C:
			}
			if s.leaseHook != nil && s.leaseHook() {
				continue // tests: a frozen leader that stops renewing
			}
			sent := time.Now()
			rctx, rcancel := context.WithDeadline(leadCtx, expires)
			applied, err := s.q(rctx, `UPDATE leases USING TTL ? SET owner = ? WHERE name = ? IF owner = ?`,
				int(ttl/time.Second), owner, name, owner).MapScanCAS(map[string]any{})
			rcancel()
			switch {
			case err == nil && applied:
				held = sent
			case err == nil:
				cancel(fmt.Errorf("cassandra: lead %s: the lease is owned by another process", name))
				return
			default:
				s.log.Warn("cassandra: lease renewal failed, retrying", "role", name, "err", err)
			}
		}
	}()
	err := fn(leadCtx)
	cause := context.Cause(leadCtx)
	cancel(nil)
	<-renewed
	// Hand over at once rather than after the TTL (a frozen leader in the
	// tests releases nothing, like a dead one).
	if s.leaseHook != nil && s.leaseHook() {
		return cause
	}
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if _, rerr := s.q(rctx, `DELETE FROM leases WHERE name = ? IF owner = ?`, name, owner).MapScanCAS(map[string]any{}); rerr != nil {
		s.log.Warn("cassandra: lease not released (it expires by itself)", "role", name, "err", rerr)
	}
	rcancel()
	if ctx.Err() == nil && cause != nil && cause != context.Canceled {
		s.log.Warn("leadership lost", "role", name, "cause", cause)
		if err == nil || err == context.Canceled {
			return cause
		}
	}
	return err
}
