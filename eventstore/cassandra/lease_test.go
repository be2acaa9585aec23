package cassandra

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// leaders runs Lead on stores and records who runs when.
type leaders struct {
	t                   *testing.T
	running, maxRunning atomic.Int32
	started             chan string
	ended               chan string
}

func (l *leaders) lead(s *Store, role, who string, ctx context.Context) {
	_ = s.Lead(ctx, role, func(ctx context.Context) error {
		n := l.running.Add(1)
		if n > l.maxRunning.Load() {
			l.maxRunning.Store(n)
		}
		l.started <- who
		<-ctx.Done()
		l.running.Add(-1)
		l.ended <- who
		return ctx.Err()
	})
}

func (l *leaders) next(ch chan string, within time.Duration, what string) string {
	l.t.Helper()
	select {
	case who := <-ch:
		return who
	case <-time.After(within):
		l.t.Fatalf("no leader %s within %v", what, within)
		return ""
	}
}

// Of two stores leading one role, one runs at a time; when the leader
// stops, the other takes over at once (the lease is released).
func TestLeadHandsOver(t *testing.T) {
	t.Parallel()
	ks := sharedKeyspace(t)
	a, b := openStore(t, testConfig(t, ks)), openStore(t, testConfig(t, ks))
	a.leaseTTL, b.leaseTTL = 4*time.Second, 4*time.Second
	role := "relay.test." + uuid.NewString()
	l := &leaders{t: t, started: make(chan string, 4), ended: make(chan string, 4)}
	ctxA, stopA := context.WithCancel(t.Context())
	defer stopA()
	go l.lead(a, role, "a", ctxA)
	if who := l.next(l.started, 30*time.Second, "started"); who != "a" {
		t.Fatalf("%s led first, want a", who)
	}
	go l.lead(b, role, "b", t.Context())
	select {
	case who := <-l.started:
		t.Fatalf("%s started while a led", who)
	case <-time.After(5 * time.Second): // past several renewals and the TTL
	}
	stopA()
	l.next(l.ended, 5*time.Second, "ended")
	if who := l.next(l.started, 5*time.Second, "taking over"); who != "b" {
		t.Fatalf("%s took over, want b", who)
	}
	if l.maxRunning.Load() != 1 {
		t.Fatalf("%d leaders ran at once", l.maxRunning.Load())
	}
}

// A leader that stops renewing (frozen, cut off, dead) stops its work
// before its lease expires, and only then does the other take over.
func TestLeadFrozenLeaderLosesTheLease(t *testing.T) {
	t.Parallel()
	ks := sharedKeyspace(t)
	a, b := openStore(t, testConfig(t, ks)), openStore(t, testConfig(t, ks))
	var frozen atomic.Bool
	a.leaseTTL, b.leaseTTL = 4*time.Second, 4*time.Second
	a.leaseHook = frozen.Load
	role := "relay.test." + uuid.NewString()
	l := &leaders{t: t, started: make(chan string, 4), ended: make(chan string, 4)}
	go l.lead(a, role, "a", t.Context())
	if who := l.next(l.started, 30*time.Second, "started"); who != "a" {
		t.Fatalf("%s led first, want a", who)
	}
	go l.lead(b, role, "b", t.Context())
	time.Sleep(4 * time.Second)
	frozen.Store(true)
	froze := time.Now()
	if who := l.next(l.ended, 5*time.Second, "stopping"); who != "a" {
		t.Fatalf("%s stopped, want a", who)
	}
	// a released nothing (frozen, as if dead): b gets in when the lease
	// expires, after a stopped.
	if who := l.next(l.started, 10*time.Second, "taking over"); who != "b" {
		t.Fatalf("%s took over, want b", who)
	}
	t.Logf("b took over %v after a froze", time.Since(froze).Round(time.Millisecond))
	if l.maxRunning.Load() != 1 {
		t.Fatalf("%d leaders ran at once", l.maxRunning.Load())
	}
}
