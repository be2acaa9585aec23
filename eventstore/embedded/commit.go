package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/examhall/exam/eventstore"
)

// Group commit.
//
// Append validates and encodes its events in the caller's goroutine, then
// hands an appendReq to the single committer goroutine and waits. The
// committer takes one request, drains whatever else is queued (at most
// MaxBatchRequests requests / MaxBatchEvents events) and, for each request in
// arrival order:
//
//  1. idempotency: if the first event id is already stored (in pebble or
//     earlier in this group), the request is a retry and gets the original
//     result with Duplicate set, or ErrDuplicateEventID if it is not exactly
//     the original append;
//  2. optimistic concurrency: the stream's version comes from the group's own
//     changes, then an in-memory cache, then pebble (the stream's last 'S'
//     key); a mismatch is a *ConflictError. Requests later in the group see the effects of
//     earlier ones, so of two requests racing for one version the first wins;
//  3. the remaining event ids must be new (else ErrDuplicateEventID);
//  4. positions are assigned consecutively after the last one and every key
//     is added to the group's single pebble batch.
//
// The batch is applied with pebble.Sync requested, and the group handed to
// the syncer goroutine, which waits for the WAL sync in commit order; only
// then does the durable position advance, waiters wake and the group's
// requests get their answers. The committer meanwhile builds the next group,
// so while one fsync runs the next group's WAL write is already queued, and
// pebble's WAL writer covers everything pending with one fsync. Since one
// goroutine assigns positions and applies batches in order, and readers stop
// at the durable position, the global log never shows a hole. If a commit or
// sync fails the store refuses every further append (its state on disk is
// unknown until it is reopened).

// appendReq is one Append call on its way through the committer. Requests
// are pooled: their encoding buffers are reused.
type appendReq struct {
	ctx      context.Context
	stream   string
	expected int64
	events   []eventstore.Record
	enc      []byte // the events' encodings, back to back
	offs     []int  // event i is enc[offs[i]:offs[i+1]]
	res      eventstore.AppendResult
	err      error
	done     chan struct{} // receives one token when res/err are set
}

var reqPool = sync.Pool{New: func() any { return &appendReq{done: make(chan struct{}, 1)} }}

// Append appends events to streamID; see eventstore.Store.
func (s *Store) Append(ctx context.Context, streamID string, expectedVersion int64, events []eventstore.Record) (eventstore.AppendResult, error) {
	if err := validateAppend(streamID, expectedVersion, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	r := reqPool.Get().(*appendReq)
	r.ctx, r.stream, r.expected, r.events = ctx, streamID, expectedVersion, events
	r.enc, r.offs = r.enc[:0], append(r.offs[:0], 0)
	for i := range events {
		ev := events[i] // a copy: the caller's slice is not modified
		ev.StreamID = streamID
		r.enc = encodeRecord(r.enc, &ev)
		r.offs = append(r.offs, len(r.enc))
	}

	if err := s.acquire(); err != nil {
		r.recycle()
		return eventstore.AppendResult{}, err
	}
	select {
	case s.reqs <- r:
		s.release()
	case <-ctx.Done():
		s.release()
		r.recycle()
		return eventstore.AppendResult{}, ctx.Err()
	}
	select {
	case <-r.done:
		res, err := r.res, r.err
		r.recycle()
		return res, err
	case <-ctx.Done():
		// The append may still commit; the committer owns r now, so it is
		// not recycled. A retry with the same event ids is safe.
		return eventstore.AppendResult{}, ctx.Err()
	}
}

func (r *appendReq) recycle() {
	r.ctx, r.events, r.res, r.err = nil, nil, eventstore.AppendResult{}, nil
	if cap(r.enc) > 1<<20 {
		r.enc = nil
	}
	reqPool.Put(r)
}

func validateAppend(streamID string, expectedVersion int64, events []eventstore.Record) error {
	switch {
	case streamID == "":
		return fmt.Errorf("%w: empty stream id", eventstore.ErrInvalidAppend)
	case len(events) == 0:
		return fmt.Errorf("%w: no events for %s", eventstore.ErrInvalidAppend, streamID)
	case expectedVersion < eventstore.AnyVersion:
		return fmt.Errorf("%w: expected version %d for %s", eventstore.ErrInvalidAppend, expectedVersion, streamID)
	}
	for i := range events {
		if events[i].EventID == "" {
			return fmt.Errorf("%w: event %d for %s has no id", eventstore.ErrInvalidAppend, i, streamID)
		}
		if events[i].Type == "" {
			return fmt.Errorf("%w: event %s has no type", eventstore.ErrInvalidAppend, events[i].EventID)
		}
	}
	if len(events) > 1 {
		seen := make(map[string]struct{}, len(events))
		for i := range events {
			if _, dup := seen[events[i].EventID]; dup {
				return fmt.Errorf("%w: event id %s twice in one append", eventstore.ErrInvalidAppend, events[i].EventID)
			}
			seen[events[i].EventID] = struct{}{}
		}
	}
	return nil
}

type committer struct {
	s        *Store
	lastPos  uint64             // last committed position
	versions map[string]int64   // stream version cache (committed state)
	touched  map[string]int64   // streams changed by the current group
	groupIDs map[string]idEntry // event ids stored by the current group
	minutes  map[int64]posRange // time index entries of the current group
	group    []*appendReq
	key      []byte // scratch
	val      []byte // scratch
}

type posRange struct{ first, last uint64 }

func (c *committer) run() {
	s := c.s
	defer close(s.syncq) // the syncer answers what is in flight, then exits
	for {
		select {
		case r := <-s.reqs:
			c.group = append(c.group[:0], r)
			events := len(r.events)
		drain:
			for len(c.group) < s.opts.MaxBatchRequests && events < s.opts.MaxBatchEvents {
				select {
				case r := <-s.reqs:
					c.group = append(c.group, r)
					events += len(r.events)
				default:
					break drain
				}
			}
			c.commitGroup()
			clear(c.group)
		case <-s.stop:
			// Close has marked the store closed and waited for senders:
			// what is queued now is all there will be.
			for {
				select {
				case r := <-s.reqs:
					r.err = eventstore.ErrClosed
					r.done <- struct{}{}
				default:
					return
				}
			}
		}
	}
}

// inflight is a group whose batch is applied and whose WAL sync may still be
// running. The syncer answers its requests once the sync is done.
type inflight struct {
	b    *pebble.Batch // nil when the group wrote nothing
	reqs []*appendReq
	last uint64 // last position of the group
}

// syncer waits for the groups' syncs in commit order; only then does it
// advance the durable position, wake waiters and answer the requests. Even a
// group that wrote nothing is answered in order: its retries and conflicts
// may rest on an earlier group that is not durable yet.
func (s *Store) syncer() {
	defer close(s.done)
	var failed error
	for g := range s.syncq {
		if g.b != nil {
			err := g.b.SyncWait()
			_ = g.b.Close()
			if err != nil && failed == nil {
				failed = fmt.Errorf("embedded: sync failed, reopen the store: %w", err)
				s.failed.Store(&failed)
				s.log.Error("event store sync failed; refusing further appends", "err", err)
			}
			if failed == nil {
				s.durable.Store(g.last)
				s.signal()
			}
		}
		for _, r := range g.reqs {
			if failed != nil && r.err == nil {
				r.err = failed
			}
			r.done <- struct{}{}
		}
	}
}

// commitGroup checks the group's requests, applies the appendable ones in
// one batch (written to the WAL and the memtable, its sync requested but not
// awaited) and hands the group to the syncer.
func (c *committer) commitGroup() {
	s := c.s
	g := inflight{reqs: slices.Clone(c.group)}
	defer func() { s.syncq <- g }()
	if f := s.failed.Load(); f != nil {
		for _, r := range g.reqs {
			r.err = *f
		}
		return
	}
	clear(c.touched)
	clear(c.groupIDs)
	clear(c.minutes)
	b := s.db.NewBatch()
	pos := c.lastPos
	for _, r := range g.reqs {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		r.err = c.add(b, r, &pos)
	}
	if pos == c.lastPos {
		_ = b.Close()
		return // only retries, conflicts and errors: nothing to write
	}
	for m, r := range c.minutes {
		c.key = timeKey(c.key[:0], m, r.first)
		c.val = appendU64(c.val[:0], r.last)
		c.set(b, c.key, c.val)
	}
	c.val = appendU64(c.val[:0], pos)
	c.set(b, metaLastPosKey, c.val)
	if err := s.db.ApplyNoSyncWait(b, pebble.Sync); err != nil {
		failed := fmt.Errorf("embedded: commit failed, reopen the store: %w", err)
		s.failed.Store(&failed)
		s.log.Error("event store commit failed; refusing further appends", "err", err)
		for _, r := range g.reqs {
			if r.err == nil {
				r.err = failed
			}
		}
		return // the batch is not closed: pebble may still hold it
	}
	g.b, g.last = b, pos
	c.lastPos = pos
	if len(c.versions)+len(c.touched) > s.opts.StreamCacheSize {
		clear(c.versions)
	}
	for stream, v := range c.touched {
		c.versions[stream] = v
	}
}

func (c *committer) set(b *pebble.Batch, k, v []byte) {
	_ = b.Set(k, v, nil) // a Set on an uncommitted batch only fails when misused
}

// add checks r against the store and the group so far and, when it may be
// appended, adds its keys to b and advances *pos.
func (c *committer) add(b *pebble.Batch, r *appendReq, pos *uint64) error {
	first, found, err := c.lookupID(r.events[0].EventID)
	if err != nil {
		return err
	}
	if found {
		return c.retry(r, first)
	}
	cur, err := c.streamVersion(r.stream)
	if err != nil {
		return err
	}
	if r.expected != eventstore.AnyVersion && r.expected != cur {
		return &eventstore.ConflictError{StreamID: r.stream, Expected: r.expected, Actual: cur}
	}
	for i := 1; i < len(r.events); i++ {
		id := r.events[i].EventID
		e, found, err := c.lookupID(id)
		if err != nil {
			return err
		}
		if found {
			return fmt.Errorf("%w: %s is already stored at position %d", eventstore.ErrDuplicateEventID, id, e.pos)
		}
	}
	n := int64(len(r.events))
	from, to := cur+1, cur+n
	for i := range r.events {
		ev := &r.events[i]
		*pos++
		p, v := *pos, from+int64(i)
		rec := r.enc[r.offs[i]:r.offs[i+1]]
		binary.BigEndian.PutUint64(rec[recordVersionOffset:], uint64(v))
		c.key = logKey(c.key[:0], p)
		c.set(b, c.key, rec)
		c.val = appendU64(c.val[:0], p)
		c.key = streamKey(c.key[:0], r.stream, v)
		c.set(b, c.key, c.val)
		e := idEntry{pos: p, back: int64(i), ahead: n - 1 - int64(i), stream: r.stream, version: v}
		c.val = encodeIDEntry(c.val[:0], e)
		c.key = eventIDKey(c.key[:0], ev.EventID)
		c.set(b, c.key, c.val)
		c.groupIDs[ev.EventID] = e
		if ev.ActorID != "" {
			c.key = indexKey(c.key[:0], prefixActor, ev.ActorID, p)
			c.set(b, c.key, nil)
		}
		for _, t := range ev.Tags {
			c.key = indexKey(c.key[:0], prefixTag, t, p)
			c.set(b, c.key, nil)
		}
		m := minuteOf(ev.OccurredAt)
		if rg, ok := c.minutes[m]; ok {
			c.minutes[m] = posRange{rg.first, p}
		} else {
			c.minutes[m] = posRange{p, p}
		}
	}
	c.touched[r.stream] = to
	r.res = eventstore.AppendResult{FromVersion: from, ToVersion: to, LastPosition: *pos}
	return nil
}

// retry answers a request whose first event id is stored: it is a retry only
// if it is exactly the stored append (same stream, same ids in order).
func (c *committer) retry(r *appendReq, first idEntry) error {
	notRetry := func(why string) error {
		return fmt.Errorf("%w: %s is already stored at position %d (%s)",
			eventstore.ErrDuplicateEventID, r.events[0].EventID, first.pos, why)
	}
	if first.back != 0 || first.ahead+1 != int64(len(r.events)) {
		return notRetry("not the same append")
	}
	if first.stream == "" {
		if err := c.resolve(&first); err != nil {
			return err
		}
	}
	if first.stream != r.stream {
		return notRetry("in stream " + first.stream)
	}
	for i := 1; i < len(r.events); i++ {
		e, found, err := c.lookupID(r.events[i].EventID)
		if err != nil {
			return err
		}
		if !found || e.pos != first.pos+uint64(i) || e.back != int64(i) {
			return notRetry("not the same append")
		}
	}
	r.res = eventstore.AppendResult{
		FromVersion:  first.version,
		ToVersion:    first.version + first.ahead,
		LastPosition: first.pos + uint64(first.ahead),
		Duplicate:    true,
	}
	return nil
}

// resolve reads the stream and version of a stored event from the log.
func (c *committer) resolve(e *idEntry) error {
	c.key = logKey(c.key[:0], e.pos)
	v, closer, err := c.s.db.Get(c.key)
	if err != nil {
		return fmt.Errorf("embedded: read position %d: %w", e.pos, err)
	}
	defer closer.Close()
	rec, err := decodeRecord(v, e.pos)
	if err != nil {
		return fmt.Errorf("embedded: read position %d: %w", e.pos, err)
	}
	e.stream, e.version = rec.StreamID, rec.Version
	return nil
}

func (c *committer) lookupID(id string) (idEntry, bool, error) {
	if e, ok := c.groupIDs[id]; ok {
		return e, true, nil
	}
	c.key = eventIDKey(c.key[:0], id)
	v, closer, err := c.s.db.Get(c.key)
	if errors.Is(err, pebble.ErrNotFound) {
		return idEntry{}, false, nil
	}
	if err != nil {
		return idEntry{}, false, fmt.Errorf("embedded: read event id %s: %w", id, err)
	}
	defer closer.Close()
	e, err := decodeIDEntry(v)
	if err != nil {
		return idEntry{}, false, fmt.Errorf("embedded: read event id %s: %w", id, err)
	}
	return e, true, nil
}

// streamVersion is the stream's current version: the group's own changes,
// else the cache, else the last key of the stream index.
func (c *committer) streamVersion(stream string) (int64, error) {
	if v, ok := c.touched[stream]; ok {
		return v, nil
	}
	if v, ok := c.versions[stream]; ok {
		return v, nil
	}
	prefix := streamPrefix(nil, stream)
	it, err := c.s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return 0, fmt.Errorf("embedded: read version of %s: %w", stream, err)
	}
	var v int64
	if it.Last() {
		v = int64(posSuffix(it.Key()))
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("embedded: read version of %s: %w", stream, err)
	}
	return v, nil
}
