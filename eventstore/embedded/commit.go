package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/examhall/exam/eventstore"
)

// Group commit.
//
// Append validates and encodes its events in the caller's goroutine, then
// hands an appendReq to the single committer goroutine and waits. The
// committer builds a group of requests and checks each as it takes it, in
// arrival order:
//
//  1. idempotency: if the first event id is already stored (in pebble or
//     earlier in this group), the request is a retry and gets the original
//     result with Duplicate set, or ErrDuplicateEventID if it is not exactly
//     the original append. Ids are first checked against an in-memory Bloom
//     filter of every stored id (filter.go): a new id, the usual case, costs
//     no pebble read;
//  2. optimistic concurrency: the stream's version comes from the stream
//     cache (which includes the group's own changes), else pebble (the
//     stream's last 'S' key); a mismatch is a *ConflictError. Requests later
//     in the group see the effects of earlier ones, so of two requests racing
//     for one version the first wins;
//  3. the remaining event ids must be new (else ErrDuplicateEventID);
//  4. positions are assigned consecutively after the last one.
//
// A group is closed when it reaches MaxBatchRequests requests /
// MaxBatchEvents events, or when nothing more is queued, no earlier group is
// waiting for its WAL sync and the linger below is over. While a sync is in
// flight the committer keeps taking (and checking) requests into the open
// group instead of committing them in many small groups: pebble cannot start
// the next WAL sync before the one in flight ends anyway, and every group
// costs a commit through pebble's pipeline, a WAL record and the syncer's
// round, whatever its size.
//
// With nothing in flight, a group smaller than the previous one lingers a
// little for more requests (at most a third of the last commit-to-sync time
// and maxLinger in all): the writers the last sync just answered are usually
// about to append again. Without it, concurrent
// writers that each wait for their append settle into two cohorts that
// alternate, each group carrying half of them, one fsync per group; with
// it, one sync carries them all. A lone writer (previous group of one)
// commits at once.
//
// Then the keys of every accepted request go into the group's single pebble
// batch, table by table (all 'L' keys in position order, then the 'S' keys,
// then 'E', ...): pebble inserts a batch into its memtable in batch order and
// reuses the previous insert's place in the skiplist when the next key falls
// next to it, so keys that sort together are cheaper to insert together.
//
// Append does what needs no shared state in the caller's goroutine: it
// encodes the records, hashes the ids for the filter and computes the
// signatures and minutes, so the single committer does as little as possible
// per event.
//
// The batch is applied with pebble.Sync requested, and the group handed to
// the syncer goroutine, which waits for the WAL sync in commit order; only
// then does the durable position advance, waiters wake and the group's
// requests get their answers. Since one goroutine assigns positions and
// applies batches in order, and readers stop at the durable position, the
// global log never shows a hole. If a commit or sync fails the store refuses
// every further append (its state on disk is unknown until it is reopened).

// appendReq is one Append call on its way through the committer. Requests
// are pooled: their encoding buffers are reused.
type appendReq struct {
	ctx      context.Context
	stream   string
	expected int64
	evs      []evMeta // what the committer needs of each event
	tags     []string // the events' tags, back to back (see evMeta.tags)
	enc      []byte   // the events' encodings, back to back
	offs     []int    // event i is enc[offs[i]:offs[i+1]]
	// Set by the committer when the request is accepted: the position and
	// version of its first event.
	first uint64
	from  int64
	res   eventstore.AppendResult
	err   error
	done  chan struct{} // receives one token when res/err are set
}

// evMeta is what the committer reads of an event, copied out of the
// caller's records (which the caller may reuse once Append returns, even
// while the committer still holds the request after a cancellation).
type evMeta struct {
	id     string
	idHash uint64 // idFilter.hash(id)
	actor  string
	tags   [2]int // the event's tags are req.tags[tags[0]:tags[1]]
	sig    uint64 // eventSig
	minute int64  // minuteOf(OccurredAt)
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
	r.ctx, r.stream, r.expected = ctx, streamID, expectedVersion
	r.enc, r.offs = r.enc[:0], append(r.offs[:0], 0)
	r.evs, r.tags = r.evs[:0], r.tags[:0]
	for i := range events {
		ev := events[i] // a copy: the caller's slice is not modified
		ev.StreamID = streamID
		r.enc = encodeRecord(r.enc, &ev)
		r.offs = append(r.offs, len(r.enc))
		t0 := len(r.tags)
		r.tags = append(r.tags, ev.Tags...)
		r.evs = append(r.evs, evMeta{
			id:     ev.EventID,
			idHash: s.ids.hash(ev.EventID),
			actor:  ev.ActorID,
			tags:   [2]int{t0, len(r.tags)},
			sig:    eventSig(&ev),
			minute: minuteOf(ev.OccurredAt),
		})
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
	r.ctx, r.res, r.err = nil, eventstore.AppendResult{}, nil
	clear(r.evs) // drop the caller's strings
	clear(r.tags)
	if cap(r.enc) > 1<<20 {
		r.enc, r.evs, r.tags, r.offs = nil, nil, nil, nil
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
	s       *Store
	ids     *idFilter // every stored event id (and those of the current group)
	lastPos uint64    // last committed position
	// streams caches what the committer knows of streams: committed state,
	// plus the changes of the current group (a group that fails to apply
	// fails the store, so they need no undo).
	streams   map[string]*streamState
	groupIDs  map[string]idEntry // event ids stored by the current group
	minutes   map[int64]posRange // time index entries of the current group
	group     []*appendReq       // the open group
	lastGroup int                // requests in the previous group
	timer     *time.Timer        // for linger
	lingerEnd time.Time          // when the open group stops lingering; zero: not started
	pos       uint64             // last position assigned in the open group
	events    int                // events in the open group
	accepted  []*appendReq       // the current group's requests to write
	pairs     []pairWrite        // the current group's actor and tag index keys
	key       []byte             // scratch
	val       []byte             // scratch
}

// streamState is the committer's knowledge of one stream.
type streamState struct {
	version int64
	// pairs are actor and tag index keys of the stream known to be written
	// (at most maxCachedPairs; a pair not listed is written again).
	pairs []indexPair
}

type indexPair struct {
	prefix byte // prefixActor or prefixTag
	value  string
}

type pairWrite struct {
	prefix        byte
	value, stream string
}

// maxCachedPairs caps the index pairs remembered per stream: an attempt
// stream has three (its student actor, exam tag and student tag).
const maxCachedPairs = 8

type posRange struct{ first, last uint64 }

func (c *committer) run() {
	s := c.s
	defer close(s.syncq) // the syncer answers what is in flight, then exits
	for {
		select {
		case r := <-s.reqs:
			c.begin()
			c.take(r)
		drain:
			for !c.full() {
				select {
				case r := <-s.reqs:
					c.take(r)
				default:
					if s.unsynced.Load() > 0 {
						// A sync is in flight: wait for it or for more.
						select {
						case r := <-s.reqs:
							c.take(r)
						case <-s.synced:
						}
						continue
					}
					if len(c.group) >= c.lastGroup || !c.linger() {
						break drain
					}
				}
			}
			c.lastGroup = len(c.group)
			c.finish()
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
	b       *pebble.Batch // nil when the group wrote nothing
	reqs    []*appendReq
	last    uint64    // last position of the group
	applied time.Time // when the batch was applied
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
			s.syncNanos.Store(int64(time.Since(g.applied)))
			s.unsynced.Add(-1)
			select {
			case s.synced <- struct{}{}:
			default: // a wake-up is pending already
			}
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

// maxLinger caps how long an open group waits for more requests when no
// sync is in flight (see the top of this file).
const maxLinger = 500 * time.Microsecond

// linger waits for one more request, until the open group's linger time is
// over, and takes it, reporting whether one came.
func (c *committer) linger() bool {
	now := time.Now()
	if c.lingerEnd.IsZero() {
		c.lingerEnd = now.Add(min(time.Duration(c.s.syncNanos.Load())/3, maxLinger))
	}
	d := c.lingerEnd.Sub(now)
	if d <= 0 {
		return false
	}
	if c.timer == nil {
		c.timer = time.NewTimer(d)
	} else {
		c.timer.Reset(d)
	}
	select {
	case r := <-c.s.reqs:
		c.timer.Stop()
		c.take(r)
		return true
	case <-c.timer.C:
		return false
	}
}

// begin opens a group.
func (c *committer) begin() {
	c.evictStreams()
	clear(c.groupIDs)
	clear(c.minutes)
	clear(c.accepted)
	c.accepted = c.accepted[:0]
	clear(c.pairs)
	c.pairs = c.pairs[:0]
	c.pos = c.lastPos
	c.events = 0
	c.lingerEnd = time.Time{}
}

// full reports whether the open group has reached its limits.
func (c *committer) full() bool {
	return len(c.group) >= c.s.opts.MaxBatchRequests || c.events >= c.s.opts.MaxBatchEvents
}

// take adds r to the open group and checks it.
func (c *committer) take(r *appendReq) {
	c.group = append(c.group, r)
	c.events += len(r.evs)
	if f := c.s.failed.Load(); f != nil {
		r.err = *f
		return
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return
	}
	r.err = c.check(r, &c.pos)
}

// finish applies the accepted requests of the open group in one batch
// (written to the WAL and the memtable, its sync requested but not awaited)
// and hands the group to the syncer.
func (c *committer) finish() {
	s := c.s
	g := inflight{reqs: slices.Clone(c.group)}
	clear(c.group)
	c.group = c.group[:0]
	defer func() { s.syncq <- g }()
	if c.pos == c.lastPos {
		return // only retries, conflicts and errors: nothing to write
	}
	if f := s.failed.Load(); f != nil {
		for _, r := range g.reqs {
			if r.err == nil {
				r.err = *f
			}
		}
		return
	}
	b := s.db.NewBatch()
	c.write(b, c.pos)
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
	s.unsynced.Add(1)
	g.b, g.last, g.applied = b, c.pos, time.Now()
	c.lastPos = c.pos
}

// evictStreams keeps the stream cache under StreamCacheSize: past it, about a
// quarter of the entries go (map iteration starts at a random place). It runs
// between groups, when everything cached is applied to pebble.
func (c *committer) evictStreams() {
	limit := c.s.opts.StreamCacheSize
	if len(c.streams) <= limit {
		return
	}
	keep := limit - limit/4
	for name := range c.streams {
		if len(c.streams) <= keep {
			break
		}
		delete(c.streams, name)
	}
}

// write adds the keys of the group's accepted requests to b, table by table
// (see the top of this file), then the time index and the last position.
func (c *committer) write(b *pebble.Batch, last uint64) {
	for _, r := range c.accepted {
		for i := range r.evs {
			rec := r.enc[r.offs[i]:r.offs[i+1]]
			binary.BigEndian.PutUint64(rec[recordVersionOffset:], uint64(r.from+int64(i)))
			c.key = logKey(c.key[:0], r.first+uint64(i))
			c.set(b, c.key, rec)
		}
	}
	for _, r := range c.accepted {
		c.key = streamKey(c.key[:0], r.stream, r.from+int64(len(r.evs))-1)
		c.val = appendU64(c.val[:0], r.first)
		for i := range r.evs {
			c.val = appendU64(c.val, r.evs[i].sig)
		}
		c.set(b, c.key, c.val)
	}
	for _, r := range c.accepted {
		n := int64(len(r.evs))
		for i := range r.evs {
			c.key = eventIDKey(c.key[:0], r.evs[i].id)
			c.val = encodeIDEntry(c.val[:0], idEntry{pos: r.first + uint64(i), back: int64(i), ahead: n - 1 - int64(i)})
			c.set(b, c.key, c.val)
		}
	}
	for _, p := range c.pairs {
		c.key = pairKey(c.key[:0], p.prefix, p.value, p.stream)
		c.set(b, c.key, nil)
	}
	for m, r := range c.minutes {
		c.key = timeKey(c.key[:0], m, r.first)
		c.val = appendU64(c.val[:0], r.last)
		c.set(b, c.key, c.val)
	}
	c.val = appendU64(c.val[:0], last)
	c.set(b, metaLastPosKey, c.val)
}

func (c *committer) set(b *pebble.Batch, k, v []byte) {
	_ = b.Set(k, v, nil) // a Set on an uncommitted batch only fails when misused
}

// check checks r against the store and the group so far and, when it may be
// appended, assigns its positions (advancing *pos) and versions, records its
// effects for the rest of the group and queues it for write.
func (c *committer) check(r *appendReq, pos *uint64) error {
	first, found, err := c.lookupID(r.evs[0].id, r.evs[0].idHash)
	if err != nil {
		return err
	}
	if found {
		return c.retry(r, first)
	}
	st, err := c.stream(r.stream)
	if err != nil {
		return err
	}
	cur := st.version
	if r.expected != eventstore.AnyVersion && r.expected != cur {
		return &eventstore.ConflictError{StreamID: r.stream, Expected: r.expected, Actual: cur}
	}
	for i := 1; i < len(r.evs); i++ {
		id := r.evs[i].id
		e, found, err := c.lookupID(id, r.evs[i].idHash)
		if err != nil {
			return err
		}
		if found {
			return fmt.Errorf("%w: %s is already stored at position %d", eventstore.ErrDuplicateEventID, id, e.pos)
		}
	}
	n := int64(len(r.evs))
	r.first, r.from = *pos+1, cur+1
	for i := range r.evs {
		ev := &r.evs[i]
		p := r.first + uint64(i)
		c.groupIDs[ev.id] = idEntry{pos: p, back: int64(i), ahead: n - 1 - int64(i), stream: r.stream, version: r.from + int64(i)}
		c.ids.add(ev.idHash)
		if ev.actor != "" {
			c.notePair(st, r.stream, prefixActor, ev.actor)
		}
		for _, t := range r.tags[ev.tags[0]:ev.tags[1]] {
			c.notePair(st, r.stream, prefixTag, t)
		}
		if rg, ok := c.minutes[ev.minute]; ok {
			c.minutes[ev.minute] = posRange{rg.first, p}
		} else {
			c.minutes[ev.minute] = posRange{p, p}
		}
	}
	*pos += uint64(n)
	st.version = cur + n
	c.accepted = append(c.accepted, r)
	r.res = eventstore.AppendResult{FromVersion: r.from, ToVersion: st.version, LastPosition: *pos}
	return nil
}

// notePair queues the index key of (prefix, value) for stream unless the
// stream's state says it is written.
func (c *committer) notePair(st *streamState, stream string, prefix byte, value string) {
	for _, p := range st.pairs {
		if p.prefix == prefix && p.value == value {
			return
		}
	}
	c.pairs = append(c.pairs, pairWrite{prefix: prefix, value: value, stream: stream})
	if len(st.pairs) < maxCachedPairs {
		// A copy: value may share memory with something much larger.
		st.pairs = append(st.pairs, indexPair{prefix: prefix, value: strings.Clone(value)})
	}
}

// retry answers a request whose first event id is stored: it is a retry only
// if it is exactly the stored append (same stream, same ids in order).
func (c *committer) retry(r *appendReq, first idEntry) error {
	notRetry := func(why string) error {
		return fmt.Errorf("%w: %s is already stored at position %d (%s)",
			eventstore.ErrDuplicateEventID, r.evs[0].id, first.pos, why)
	}
	if first.back != 0 || first.ahead+1 != int64(len(r.evs)) {
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
	for i := 1; i < len(r.evs); i++ {
		e, found, err := c.lookupID(r.evs[i].id, r.evs[i].idHash)
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

// lookupID finds a stored event id (h is its filter hash): in the filter
// first (a miss proves the id new), then in the current group, then in
// pebble.
func (c *committer) lookupID(id string, h uint64) (idEntry, bool, error) {
	if !c.ids.mayContain(h) {
		return idEntry{}, false, nil
	}
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

// stream returns the cached state of a stream, reading its version (the
// last key of its stream index) on a miss.
func (c *committer) stream(name string) (*streamState, error) {
	if st, ok := c.streams[name]; ok {
		return st, nil
	}
	prefix := streamPrefix(nil, name)
	it, err := c.s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("embedded: read version of %s: %w", name, err)
	}
	var v int64
	if it.Last() {
		v = int64(posSuffix(it.Key()))
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("embedded: read version of %s: %w", name, err)
	}
	st := &streamState{version: v}
	c.streams[name] = st
	return st, nil
}
