package postgres

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Of two stores leading the same role, one runs at a time; when the leader
// stops, the other takes over.
func TestLeadRunsOneLeaderAtATime(t *testing.T) {
	cfg := testConfig(newSchema(t))
	open := func() *Store {
		s, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := open(), open()
	var running, maxRunning atomic.Int32
	started := make(chan string, 2)
	lead := func(s *Store, who string, ctx context.Context) {
		_ = s.Lead(ctx, "relay.test", func(ctx context.Context) error {
			n := running.Add(1)
			if n > maxRunning.Load() {
				maxRunning.Store(n)
			}
			started <- who
			<-ctx.Done()
			running.Add(-1)
			return ctx.Err()
		})
	}
	ctxA, stopA := context.WithCancel(context.Background())
	defer stopA()
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	go lead(a, "a", ctxA)
	first := <-started
	go lead(b, "b", ctxB)
	select {
	case who := <-started:
		t.Fatalf("%s started while %s led", who, first)
	case <-time.After(3 * time.Second):
	}
	if first == "a" {
		stopA()
	} else {
		t.Fatalf("b led before it asked")
	}
	select {
	case who := <-started:
		if who != "b" {
			t.Fatalf("%s took over, want b", who)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b never took over after a stopped")
	}
	if maxRunning.Load() != 1 {
		t.Fatalf("%d leaders ran at once", maxRunning.Load())
	}
}
