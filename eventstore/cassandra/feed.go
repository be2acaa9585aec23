package cassandra

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/examhall/exam/eventstore"
)

// # The global feed
//
// There is no global sequence: a position is the millisecond its append
// was prepared, a writer id and a sequence (position.go). The feed table
// holds a row per event at its position, in minute buckets × feedShards
// shards (a busy minute is 8 partitions, not one), listed in feed_buckets.
//
// A tailer must never skip an event that commits late, nor see one twice.
// Two rules give that:
//
//  1. Feed rows exist before the event can commit. An append writes its
//     feed rows (status pending) at QUORUM before the stream's transaction,
//     and runs the transaction only if those writes were acknowledged
//     within FeedDelay/2 of the positions' time; otherwise it voids them and
//     takes new positions. ReadAll reads only positions below the horizon,
//     now − FeedDelay. So when a tailer reads a position range below its
//     horizon, every row of an event that may still commit there is already
//     stored and a QUORUM read sees it (given clocks within FeedDelay/2 of
//     each other: NTP keeps them within milliseconds).
//  2. A pending row is decided before the tailer passes it. Its writer marks
//     it committed or void after the transaction; until then ReadAll looks
//     at the stream itself: the event there at that version and position
//     means committed (the tailer then writes the audit query rows and
//     marks it), another event there means void, nothing there means the
//     transaction is still running: ReadAll stops before the row (after
//     waiting up to undecidedWait) and returns what it has. A row left
//     pending by a writer that died is decided void after AbandonAfter, by a
//     SERIAL read of the stream (which also makes sure a proposal of the
//     dead writer still in flight never completes). An append never runs
//     its transaction later than FeedDelay/2 after its positions, so only a
//     process frozen for AbandonAfter between that check and sending the
//     transaction could commit a voided event.
//
// Positions are unique and a stream's versions get increasing positions
// (each append takes positions above the stream's last), so the feed is in
// version order for every stream.
//
// So a position on Cassandra means "when, and by whom, the append was
// prepared"; X-Event-Position still names the event, and a read model
// whose checkpoint reached it has applied everything before it in the
// feed. The price is latency: an event shows in the feed FeedDelay after
// its append.

const (
	undecidedWait = 2 * time.Second
	pollInterval  = 50 * time.Millisecond
)

// feedRow is a feed row and its status.
type feedRow struct {
	row
	status int8
}

func (s *Store) horizon() uint64 { return timePosition(time.Now().Add(-s.cfg.FeedDelay)) }

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, afterPosition uint64, limit int) ([]eventstore.Record, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	hz := s.horizon()
	if afterPosition+1 >= hz {
		return nil, nil
	}
	buckets, err := s.feedBuckets(ctx, feedBucket(afterPosition+1), feedBucket(hz-1), false)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(undecidedWait)
	var out []eventstore.Record
	lo := afterPosition
	for _, b := range buckets {
		for {
			rows, cutoff, full, err := s.readBucket(ctx, b, lo, hz, limit-len(out), false)
			if err != nil {
				return nil, err
			}
			for i := range rows {
				switch st, err := s.decide(ctx, &rows[i], deadline); {
				case err != nil:
					return nil, err
				case st == statusPending:
					return out, nil // not decided yet: stop before it
				case st == statusCommitted:
					out = append(out, rows[i].rec)
					if len(out) == limit {
						return out, nil
					}
				}
				lo = rows[i].rec.Position
			}
			if !full {
				break
			}
			lo = cutoff
		}
	}
	return out, nil
}

// readBucket reads up to n rows of bucket b with lo < position < hi from
// every shard and merges them in position order (descending when desc).
// When a shard returned n rows, the other shards' rows beyond its last one
// are not all read yet: those are dropped, full is true and cutoff is that
// last position, where the caller continues.
func (s *Store) readBucket(ctx context.Context, b int64, lo, hi uint64, n int, desc bool) ([]feedRow, uint64, bool, error) {
	n = max(n, 1)
	var (
		mu     sync.Mutex
		all    []feedRow
		cutoff uint64
		full   bool
		wg     sync.WaitGroup
		errs   = make([]error, feedShards)
	)
	if desc {
		cutoff = 0
	} else {
		cutoff = hi - 1
	}
	for shard := range feedShards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stmt := `SELECT ` + eventCols + `, status FROM feed WHERE bucket = ? AND shard = ? AND position > ? AND position < ? LIMIT ?`
			if desc {
				stmt = `SELECT ` + eventCols + `, status FROM feed WHERE bucket = ? AND shard = ? AND position > ? AND position < ? ORDER BY position DESC LIMIT ?`
			}
			it := s.q(ctx, stmt, b, shard, int64(lo), int64(hi), n).PageSize(n).Iter()
			var rows []feedRow
			for {
				var st int8
				r, ok := scanRow(it, &st)
				if !ok {
					break
				}
				rows = append(rows, feedRow{r, st})
			}
			if err := it.Close(); err != nil {
				errs[shard] = fmt.Errorf("cassandra: read the feed: %w", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			all = append(all, rows...)
			if len(rows) == n {
				last := rows[len(rows)-1].rec.Position
				if !full || (!desc && last < cutoff) || (desc && last > cutoff) {
					cutoff = last
				}
				full = true
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, 0, false, err
		}
	}
	all = slices.DeleteFunc(all, func(r feedRow) bool {
		if desc {
			return full && r.rec.Position < cutoff
		}
		return full && r.rec.Position > cutoff
	})
	slices.SortFunc(all, func(a, b feedRow) int {
		c := 0
		if a.rec.Position < b.rec.Position {
			c = -1
		} else if a.rec.Position > b.rec.Position {
			c = 1
		}
		if desc {
			return -c
		}
		return c
	})
	return all, cutoff, full, nil
}

// decide returns a feed row's status, deciding a pending one from the
// stream (see the package comment on the feed). It returns statusPending
// when the transaction is still undecided at deadline.
func (s *Store) decide(ctx context.Context, fr *feedRow, deadline time.Time) (int8, error) {
	if fr.status != statusPending {
		return fr.status, nil
	}
	rec := &fr.rec
	part := s.partitionOf(fr.appendFrom)
	for {
		at, ok, err := s.rowAt(ctx, rec.StreamID, part, rec.Version, s.cons)
		if err != nil {
			return 0, err
		}
		if !ok && time.Since(positionTime(rec.Position)) > s.cfg.AbandonAfter {
			// Make sure: a SERIAL read completes a proposal in flight, or
			// makes it fail.
			if at, ok, err = s.rowAt(ctx, rec.StreamID, part, rec.Version, s.serial); err != nil {
				return 0, err
			}
			if !ok {
				s.log.Warn("cassandra: feed row abandoned by its writer, void", "stream", rec.StreamID, "version", rec.Version, "position", rec.Position)
				return statusVoid, s.setStatus(ctx, rec.Position, statusVoid)
			}
		}
		if ok {
			if at.rec.EventID == rec.EventID && at.rec.Position == rec.Position {
				if err := s.writeQueryRows(ctx, []row{fr.row}); err != nil {
					return 0, err
				}
				return statusCommitted, s.setStatus(ctx, rec.Position, statusCommitted)
			}
			return statusVoid, s.setStatus(ctx, rec.Position, statusVoid)
		}
		if time.Now().After(deadline) {
			return statusPending, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// feedBuckets lists the feed's minutes in from..to.
func (s *Store) feedBuckets(ctx context.Context, from, to int64, desc bool) ([]int64, error) {
	stmt := `SELECT bucket FROM feed_buckets WHERE k = 0 AND bucket >= ? AND bucket <= ?`
	if desc {
		stmt += ` ORDER BY bucket DESC`
	}
	it := s.q(ctx, stmt, from, to).Iter()
	var out []int64
	var b int64
	for it.Scan(&b) {
		out = append(out, b)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("cassandra: list feed buckets: %w", err)
	}
	return out, nil
}

// Head implements eventstore.Store: the last committed position below the
// horizon. If this store handed out positions the horizon has not passed
// yet, Head first waits for it (at most FeedDelay), so an append that
// returned is at or below Head.
func (s *Store) Head(ctx context.Context) (uint64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if last := s.gen.last(); last != 0 {
		if wait := time.Until(positionTime(last).Add(s.cfg.FeedDelay + 2*time.Millisecond)); wait > 0 {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-s.done:
				return 0, eventstore.ErrClosed
			case <-time.After(wait):
			}
		}
	}
	hz := s.horizon()
	buckets, err := s.feedBuckets(ctx, 0, feedBucket(hz-1), true)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(undecidedWait)
	for _, b := range buckets {
		hi := hz
		for {
			rows, cutoff, full, err := s.readBucket(ctx, b, 0, hi, 64, true)
			if err != nil {
				return 0, err
			}
			for i := range rows {
				st, err := s.decide(ctx, &rows[i], deadline)
				if err != nil {
					return 0, err
				}
				if st == statusCommitted {
					return rows[i].rec.Position, nil
				}
			}
			if !full {
				break
			}
			hi = cutoff
		}
	}
	return 0, nil
}

// WaitForEvents implements eventstore.Waiter by polling the feed every
// pollInterval: appends of other processes show in it only through the
// cluster, and those of this one only after FeedDelay anyway.
func (s *Store) WaitForEvents(ctx context.Context, afterPosition uint64) error {
	for {
		if err := s.check(); err != nil {
			return err
		}
		recs, err := s.ReadAll(ctx, afterPosition, 1)
		if s.closed.Load() {
			return eventstore.ErrClosed
		}
		if err != nil {
			return err
		}
		if len(recs) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return eventstore.ErrClosed
		case <-time.After(pollInterval):
		}
	}
}

// LoadCheckpoint implements eventstore.CheckpointStore.
func (s *Store) LoadCheckpoint(ctx context.Context, name string) (uint64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	var p int64
	err := s.q(ctx, `SELECT position FROM checkpoints WHERE name = ?`, name).Scan(&p)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cassandra: load checkpoint %s: %w", name, err)
	}
	return uint64(p), nil
}

// SaveCheckpoint implements eventstore.CheckpointStore.
func (s *Store) SaveCheckpoint(ctx context.Context, name string, position uint64) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := s.q(ctx, `INSERT INTO checkpoints (name, position) VALUES (?, ?)`, name, int64(position)).Exec(); err != nil {
		return fmt.Errorf("cassandra: save checkpoint %s: %w", name, err)
	}
	return nil
}
