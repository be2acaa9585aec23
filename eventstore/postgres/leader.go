package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/examhall/exam/internal/pgmigrate"
)

// Lead runs fn while this process holds the named leadership of the
// store's schema: a session advisory lock on a connection of its own, so
// that of several processes running the same singleton role (the Kafka
// relay) one works and the others stand by, taking over within a few
// seconds when it dies (PostgreSQL drops a dead session's locks). fn's
// context ends when ctx ends or the lock's connection stops answering;
// Lead then returns fn's error. It waits for the lock until ctx ends.
func (s *Store) Lead(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	key := pgmigrate.HashKey("examhall/eventstore/lead\x00" + s.cfg.Schema + "\x00" + name)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: lead %s: %w", name, err)
	}
	// The connection leaves the pool for good: its session holds the lock,
	// and closing it is what releases the lock in every case.
	pc := conn.Hijack()
	defer func() { _ = pc.Close(context.Background()) }()
	for {
		var got bool
		if err := pc.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
			return fmt.Errorf("postgres: lead %s: %w", name, err)
		}
		if got {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	s.log.Info("leadership taken", "role", name)
	leadCtx, cancel := context.WithCancel(ctx)
	lost := make(chan error, 1)
	pinger := make(chan struct{})
	go func() {
		defer close(pinger)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-leadCtx.Done():
				return
			case <-t.C:
				pingCtx, done := context.WithTimeout(leadCtx, 2*time.Second)
				err := pc.Ping(pingCtx)
				done()
				if err != nil && leadCtx.Err() == nil {
					lost <- err
					cancel()
					return
				}
			}
		}
	}()
	err = fn(leadCtx)
	cancel()
	<-pinger // the connection is used by one goroutine at a time
	select {
	case lerr := <-lost:
		s.log.Warn("leadership lost: its connection stopped answering", "role", name, "err", lerr)
		return fmt.Errorf("postgres: lead %s: lock connection lost: %w", name, lerr)
	default:
	}
	return err
}
