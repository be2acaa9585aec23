package eventstore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examhall/exam/eventstore"
)

func TestBroadcasterWakesWaitersWhenReady(t *testing.T) {
	var b eventstore.Broadcaster
	var head atomic.Uint64
	done := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() { done <- b.Wait(context.Background(), func() (bool, error) { return head.Load() >= 5, nil }) }()
	}
	for pos := uint64(1); pos <= 5; pos++ {
		time.Sleep(time.Millisecond)
		head.Store(pos)
		b.Broadcast()
	}
	for i := 0; i < 3; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter was never woken")
		}
	}
}

func TestBroadcasterCloseWakesForGoodAndCtxEnds(t *testing.T) {
	var b eventstore.Broadcaster
	errClosed := errors.New("closed")
	var closed atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- b.Wait(context.Background(), func() (bool, error) {
			if closed.Load() {
				return false, errClosed
			}
			return false, nil
		})
	}()
	time.Sleep(5 * time.Millisecond)
	closed.Store(true)
	b.Close()
	b.Broadcast() // after Close: harmless
	if err := <-done; !errors.Is(err, errClosed) {
		t.Fatalf("err = %v, want the owner's closed error", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	var open eventstore.Broadcaster
	if err := open.Wait(ctx, func() (bool, error) { return false, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}
