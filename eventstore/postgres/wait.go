package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/examhall/exam/eventstore"
)

// advance raises the known head to pos and wakes the waiters if it grew.
func (s *Store) advance(pos uint64) {
	for {
		cur := s.head.Load()
		if pos <= cur {
			return
		}
		if s.head.CompareAndSwap(cur, pos) {
			break
		}
	}
	s.notify.Broadcast() // a no-op after Close
}

// WaitForEvents blocks until Head > afterPosition, ctx ends, or the store
// closes (ErrClosed). It wakes on this store's commits, on notifications
// from other stores over the same schema, and on a poll every PollInterval.
func (s *Store) WaitForEvents(ctx context.Context, afterPosition uint64) error {
	if err := s.acquire(); err != nil {
		return err
	}
	s.listenOnce.Do(s.startListener)
	if s.head.Load() <= afterPosition {
		// The known head may lag behind other processes' commits.
		if _, err := s.readHead(ctx); err != nil {
			s.release()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
	s.release()
	return s.notify.Wait(ctx, func() (bool, error) {
		s.mu.RLock()
		closed := s.closed
		s.mu.RUnlock()
		if closed {
			return false, eventstore.ErrClosed
		}
		return s.head.Load() > afterPosition, nil
	})
}

// startListener starts the goroutine that LISTENs on the schema's channel
// and polls the head. It runs until Close.
func (s *Store) startListener() {
	ctx, cancel := context.WithCancel(context.Background())
	s.listenCancel = cancel
	s.listenDone = make(chan struct{})
	go func() {
		defer close(s.listenDone)
		s.listen(ctx)
	}()
}

func (s *Store) listen(ctx context.Context) {
	cfg := s.pool.Config().ConnConfig.Copy()
	// On a timeout, only interrupt the read: the default handler would also
	// send the server a cancel request, which could hit the next query.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	for ctx.Err() == nil {
		err := s.listenOn(ctx, cfg)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("event notification listener failed; reconnecting", "err", err)
		select {
		case <-time.After(s.cfg.PollInterval):
		case <-ctx.Done():
			return
		}
	}
}

// listenOn listens on one connection until it fails or ctx ends.
func (s *Store) listenOn(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	poll := func() error {
		var head int64
		if err := conn.QueryRow(ctx, s.sql.head).Scan(&head); err != nil {
			return err
		}
		s.advance(uint64(head))
		return nil
	}
	// Listening first, then reading the head: nothing committed in between
	// is missed.
	if err := poll(); err != nil {
		return err
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.PollInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if p, perr := strconv.ParseUint(n.Payload, 10, 64); perr == nil {
				s.advance(p)
			} else if err := poll(); err != nil {
				return err
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
			// No notification for a while: poll, in case one was lost or
			// a writer did not send one.
			if err := poll(); err != nil {
				return err
			}
		default:
			return err
		}
	}
}
