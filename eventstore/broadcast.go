package eventstore

import (
	"context"
	"sync"
)

// Broadcaster wakes every waiter at once whenever something they wait for
// may have happened (a commit, a published position). Broadcast closes the
// current channel and hands out a new one; Close closes it for good. The zero
// value is ready to use.
type Broadcaster struct {
	mu     sync.Mutex
	ch     chan struct{}
	closed bool
}

func (b *Broadcaster) current() chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// Broadcast wakes everyone waiting now. After Close it does nothing.
func (b *Broadcaster) Broadcast() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if b.ch != nil {
		close(b.ch)
	}
	b.ch = make(chan struct{})
}

// Close wakes everyone for the last time; later waits return as soon as
// their condition is checked (a closed owner reports its own error there).
func (b *Broadcaster) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	close(b.ch)
}

// Wait returns when ready reports true or an error, or when ctx ends. ready
// is checked after the channel is taken, so a Broadcast between the check
// and the wait is never missed.
func (b *Broadcaster) Wait(ctx context.Context, ready func() (bool, error)) error {
	for {
		ch := b.current()
		ok, err := ready()
		if err != nil || ok {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
