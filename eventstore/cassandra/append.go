package cassandra

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocql/gocql"
	"golang.org/x/sync/errgroup"

	"github.com/examhall/exam/eventstore"
)

// maxAttempts bounds an AnyVersion append's retries under contention.
const maxAttempts = 60

// Append implements eventstore.Store. One attempt (tryAppend):
//
//  1. read the stream's head (QUORUM; SERIAL near a partition boundary, see
//     streamHead) and the claims of the event ids (retries, duplicates);
//  2. take positions above the head's and write the feed rows as pending,
//     and the event id claims;
//  3. if that took longer than FeedDelay/2, void them and start again with
//     new positions: a tailer may already have read past them (feed.go);
//  4. the stream's transaction: a conditional batch of INSERT … IF NOT
//     EXISTS rows at head+1…, in one partition, SERIAL/QUORUM, no retry
//     policy. An unknown outcome (timeout) is resolved by a SERIAL read;
//  5. committed: write the audit query rows, then mark the feed rows
//     committed. Lost: mark them void; a retry of this same append (its
//     first event is there) returns the original result as a duplicate, an
//     AnyVersion append tries again, others get a ConflictError.
func (s *Store) Append(ctx context.Context, streamID string, expectedVersion int64, events []eventstore.Record) (eventstore.AppendResult, error) {
	if err := s.check(); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := validate(streamID, expectedVersion, events, int(s.maxAppend)); err != nil {
		return eventstore.AppendResult{}, err
	}
	var lastErr error
	for attempt := range maxAttempts {
		res, retry, err := s.tryAppend(ctx, streamID, expectedVersion, events)
		if !retry {
			return res, err
		}
		lastErr = err
		backoff := time.Duration(min(1<<attempt, 64)) * time.Millisecond
		select {
		case <-ctx.Done():
			return eventstore.AppendResult{}, fmt.Errorf("cassandra: append to %s: %w", streamID, ctx.Err())
		case <-s.done:
			return eventstore.AppendResult{}, eventstore.ErrClosed
		case <-time.After(backoff/2 + rand.N(backoff)):
		}
	}
	return eventstore.AppendResult{}, fmt.Errorf("cassandra: append to %s: no attempt won in %d: %w", streamID, maxAttempts, lastErr)
}

var errContended = errors.New("cassandra: stream contended")

func validate(streamID string, expected int64, events []eventstore.Record, maxAppend int) error {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{eventstore.ErrInvalidAppend}, a...)...)
	}
	switch {
	case streamID == "" || !utf8.ValidString(streamID):
		return invalid("bad stream id %q", streamID)
	case len(events) == 0:
		return invalid("no events")
	case len(events) > maxAppend:
		return invalid("%d events in one append, at most %d", len(events), maxAppend)
	case expected < eventstore.AnyVersion:
		return invalid("expected version %d", expected)
	}
	seen := make(map[string]bool, len(events))
	for i, ev := range events {
		if ev.EventID == "" || ev.Type == "" {
			return invalid("event %d without id or type", i)
		}
		if seen[ev.EventID] {
			return invalid("event id %s twice in one append", ev.EventID)
		}
		seen[ev.EventID] = true
		for _, f := range append([]string{ev.EventID, ev.Type, ev.ActorID, ev.ActorRole, ev.CorrelationID, ev.CausationID}, ev.Tags...) {
			if !utf8.ValidString(f) || strings.ContainsRune(f, 0) {
				return invalid("event %d: text %q is not valid UTF-8 without NUL", i, f)
			}
		}
	}
	return nil
}

func (s *Store) tryAppend(ctx context.Context, stream string, expected int64, events []eventstore.Record) (eventstore.AppendResult, bool, error) {
	var none eventstore.AppendResult
	head, headPos, err := s.streamHead(ctx, stream, s.cons)
	if err == nil && head >= s.bucket && head%s.bucket < s.maxAppend {
		// The next append may start where an earlier one ran over from the
		// previous partition, which the transaction's IF NOT EXISTS (one
		// partition) cannot see: read the head linearizably.
		head, headPos, err = s.streamHead(ctx, stream, s.serial)
	}
	if err != nil {
		return none, false, err
	}
	if dup, err := s.checkIDs(ctx, stream, events); err != nil || dup != nil {
		if dup != nil {
			return *dup, false, nil
		}
		return none, false, err
	}
	if expected != eventstore.AnyVersion && expected != head {
		return none, false, &eventstore.ConflictError{StreamID: stream, Expected: expected, Actual: head}
	}
	first := head + 1
	part := s.partitionOf(first)
	n := len(events)
	pos := s.gen.next(n, headPos)
	rows := make([]row, n)
	for i, ev := range events {
		ev.StreamID, ev.Version, ev.Position = stream, first+int64(i), pos+uint64(i)
		ev.OccurredAt = ev.OccurredAt.UTC()
		rows[i] = row{rec: ev, appendFrom: first, appendTo: first + int64(n) - 1, appendLast: int64(pos) + int64(n) - 1}
	}
	if err := s.writePending(ctx, part, rows); err != nil {
		s.markFeed(ctx, rows, statusVoid)
		return none, false, err
	}
	if lag := time.Since(positionTime(pos)); lag > s.cfg.FeedDelay/2 {
		s.markFeed(ctx, rows, statusVoid)
		s.log.Warn("cassandra: feed rows stored late, taking new positions", "stream", stream, "lag", lag)
		return none, true, fmt.Errorf("cassandra: feed rows stored %v after their position", lag)
	}

	applied, err := s.cas(ctx, part, rows)
	if err != nil {
		s.log.Warn("cassandra: stream transaction outcome unknown, reading it at SERIAL", "stream", stream, "err", err)
		var known bool
		applied, known, err = s.resolveCAS(ctx, part, rows[0])
		if !known {
			// The feed rows stay pending: a tailer decides them (feed.go).
			return none, false, fmt.Errorf("cassandra: append to %s: outcome unknown: %w", stream, err)
		}
	}
	if !applied {
		s.markFeed(ctx, rows, statusVoid)
		at, ok, err := s.rowAt(ctx, stream, part, first, s.serial)
		if err != nil {
			return none, false, err
		}
		if ok && at.rec.EventID == events[0].EventID {
			// A retry of this append racing the original, which won.
			if at.appendFrom == at.rec.Version && at.appendTo-at.appendFrom+1 == int64(n) {
				return eventstore.AppendResult{FromVersion: at.appendFrom, ToVersion: at.appendTo,
					LastPosition: uint64(at.appendLast), Duplicate: true}, false, nil
			}
			return none, false, fmt.Errorf("%w: %s is stored in another append", eventstore.ErrDuplicateEventID, events[0].EventID)
		}
		if !ok || expected == eventstore.AnyVersion {
			return none, true, errContended
		}
		return none, false, &eventstore.ConflictError{StreamID: stream, Expected: expected, Actual: max(at.appendTo, first)}
	}
	s.heads.put(stream, part)
	s.afterCommit(ctx, rows)
	return eventstore.AppendResult{FromVersion: first, ToVersion: first + int64(n) - 1, LastPosition: pos + uint64(n) - 1}, false, nil
}

const insertEvent = `INSERT INTO events (partition_nr, ` + eventCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`

// cas runs the stream's transaction. It has no retry policy: a retried
// transaction would find its own rows and report a conflict.
func (s *Store) cas(ctx context.Context, part int64, rows []row) (bool, error) {
	run := func() (bool, error) {
		b := s.sess.NewBatch(gocql.LoggedBatch).WithContext(ctx)
		b.SetConsistency(s.cons)
		b.SerialConsistency(s.serialC)
		b.RetryPolicy(nil)
		for i := range rows {
			b.Query(insertEvent, append([]any{part}, rows[i].values()...)...)
		}
		applied, iter, err := s.sess.MapExecuteBatchCAS(b, map[string]any{})
		if iter != nil {
			_ = iter.Close()
		}
		return applied, err
	}
	if s.casHook != nil {
		return s.casHook(run)
	}
	return run()
}

// resolveCAS decides a transaction whose outcome is unknown: a SERIAL read
// of its first row completes a proposal still in flight or makes sure it
// never completes, so the answer is final. known is false only if the read
// fails too.
func (s *Store) resolveCAS(ctx context.Context, part int64, first row) (applied, known bool, err error) {
	for attempt := range 5 {
		at, ok, err := s.rowAt(ctx, first.rec.StreamID, part, first.rec.Version, s.serial)
		if err == nil {
			return ok && at.rec.EventID == first.rec.EventID && at.rec.Position == first.rec.Position, true, nil
		}
		s.log.Warn("cassandra: SERIAL read to resolve a transaction failed", "stream", first.rec.StreamID, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return false, false, ctx.Err()
		case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
		}
	}
	return false, false, errors.New("cassandra: could not read the stream at SERIAL")
}

// checkIDs looks the events' ids up. It returns the original result when
// the append is a retry of one that is stored, ErrDuplicateEventID when any
// id is stored otherwise, and nothing when none is. A claim counts only if
// the stream holds that event where the claim says.
func (s *Store) checkIDs(ctx context.Context, stream string, events []eventstore.Record) (*eventstore.AppendResult, error) {
	ids := make([]string, len(events))
	for i, ev := range events {
		ids[i] = ev.EventID
	}
	type claim struct {
		stream    string
		part, ver int64
	}
	claims := map[string]claim{}
	for chunk := range chunks(ids, 100) {
		it := s.q(ctx, `SELECT event_id, stream_id, partition_nr, version FROM event_ids WHERE event_id IN ?`, chunk).Iter()
		var id string
		var c claim
		for it.Scan(&id, &c.stream, &c.part, &c.ver) {
			claims[id] = c
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("cassandra: look up event ids: %w", err)
		}
	}
	if len(claims) == 0 {
		return nil, nil
	}
	stored := map[string]row{}
	for id, c := range claims {
		at, ok, err := s.rowAt(ctx, c.stream, c.part, c.ver, s.serial)
		if err != nil {
			return nil, err
		}
		if ok && at.rec.EventID == id {
			stored[id] = at
		}
	}
	if len(stored) == 0 {
		return nil, nil // stale claims of appends that lost
	}
	if f, ok := stored[events[0].EventID]; ok && f.rec.StreamID == stream && f.appendFrom == f.rec.Version &&
		f.appendTo-f.appendFrom+1 == int64(len(events)) && len(stored) == len(events) {
		same := true
		for i, ev := range events {
			r := stored[ev.EventID]
			same = same && r.rec.StreamID == stream && r.rec.Version == f.appendFrom+int64(i)
		}
		if same {
			return &eventstore.AppendResult{FromVersion: f.appendFrom, ToVersion: f.appendTo,
				LastPosition: uint64(f.appendLast), Duplicate: true}, nil
		}
	}
	for id, r := range stored {
		return nil, fmt.Errorf("%w: %s is stored in %s at version %d", eventstore.ErrDuplicateEventID, id, r.rec.StreamID, r.rec.Version)
	}
	return nil, nil
}

func chunks[T any](xs []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(xs) > 0 {
			k := min(n, len(xs))
			if !yield(xs[:k]) {
				return
			}
			xs = xs[k:]
		}
	}
}

// Feed row statuses.
const (
	statusPending   int8 = 0
	statusCommitted int8 = 1
	statusVoid      int8 = 2
)

// writeTS is the write timestamp of a feed row's status: pending first,
// then its final status one microsecond later, so the final one wins
// whatever the clocks of the writer and of a tailer that decides the row.
func writeTS(pos uint64, status int8) int64 {
	ts := positionTime(pos).UnixMicro()
	if status != statusPending {
		ts++
	}
	return ts
}

const insertFeed = `INSERT INTO feed (bucket, shard, status, ` + eventCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`

// writePending stores the feed rows (pending) and the event id claims.
func (s *Store) writePending(ctx context.Context, part int64, rows []row) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range rows {
		r := &rows[i]
		pos := r.rec.Position
		g.Go(func() error {
			if err := s.ensureBucket(gctx, "", feedBucket(pos)); err != nil {
				return err
			}
			args := append([]any{feedBucket(pos), feedShard(pos), statusPending}, r.values()...)
			if err := s.q(gctx, insertFeed, append(args, writeTS(pos, statusPending))...).Exec(); err != nil {
				return fmt.Errorf("cassandra: write feed row: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			err := s.q(gctx, `INSERT INTO event_ids (event_id, stream_id, partition_nr, version) VALUES (?, ?, ?, ?)`,
				r.rec.EventID, r.rec.StreamID, part, r.rec.Version).Exec()
			if err != nil {
				return fmt.Errorf("cassandra: claim event id: %w", err)
			}
			return nil
		})
	}
	return g.Wait()
}

// markFeed gives feed rows their final status; failures are logged: a
// tailer decides a row left pending from the stream (feed.go).
func (s *Store) markFeed(ctx context.Context, rows []row, status int8) {
	ctx = context.WithoutCancel(ctx)
	g := errgroup.Group{}
	g.SetLimit(16)
	for i := range rows {
		pos := rows[i].rec.Position
		g.Go(func() error { return s.setStatus(ctx, pos, status) })
	}
	if err := g.Wait(); err != nil {
		s.log.Warn("cassandra: feed row status not written (a tailer decides it)", "status", status, "err", err)
	}
}

func (s *Store) setStatus(ctx context.Context, pos uint64, status int8) error {
	return s.q(ctx, `UPDATE feed USING TIMESTAMP ? SET status = ? WHERE bucket = ? AND shard = ? AND position = ?`,
		writeTS(pos, status), status, feedBucket(pos), feedShard(pos), int64(pos)).Exec()
}

// afterCommit writes the committed events' audit query rows, then marks
// their feed rows committed (in that order: a row still pending when a
// tailer reaches it makes the tailer write the query rows again).
func (s *Store) afterCommit(ctx context.Context, rows []row) {
	ctx = context.WithoutCancel(ctx)
	if err := s.writeQueryRows(ctx, rows); err != nil {
		s.log.Warn("cassandra: audit query rows not written yet (the feed's tailer writes them)", "err", err)
		return
	}
	s.markFeed(ctx, rows, statusCommitted)
}
