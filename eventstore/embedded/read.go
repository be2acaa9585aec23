package embedded

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/examhall/exam/eventstore"
)

// Readers return only events at or below the durable position, read before
// their iterators are created: pebble makes a batch visible before its sync
// completes, and an event that a crash could take back must never be seen.

// maxTimeRanges caps how many position ranges a time query collects from
// the time index before it falls back to scanning the log in order.
const maxTimeRanges = 100_000

// ctxCheckEvery is how often long scans look at their context.
const ctxCheckEvery = 256

// Load returns the events of streamID with Version >= fromVersion, in order.
func (s *Store) Load(ctx context.Context, streamID string, fromVersion int64) ([]eventstore.Record, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	durable := s.durable.Load()
	r, err := s.newReader(0, durable)
	if err != nil {
		return nil, err
	}
	defer r.close()
	fromVersion = max(fromVersion, 1)
	prefix := streamPrefix(nil, streamID)
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: appendU64(slices.Clip(prefix), uint64(fromVersion)),
		UpperBound: prefixEnd(prefix),
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: load %s: %w", streamID, err)
	}
	defer it.Close()
	var out []eventstore.Record
runs:
	for ok := it.First(); ok; ok = it.Next() {
		run, err := decodeStreamRun(it.Key(), it.Value())
		if err != nil {
			return nil, fmt.Errorf("embedded: load %s: %w", streamID, err)
		}
		for v := max(fromVersion, run.first); v <= run.last; v++ {
			if len(out)%ctxCheckEvery == ctxCheckEvery-1 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			pos := run.posOf(v)
			if pos > durable {
				break runs // versions of one stream are in position order
			}
			rec, err := r.get(pos)
			if err != nil {
				return nil, fmt.Errorf("embedded: load %s: %w", streamID, err)
			}
			out = append(out, rec)
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("embedded: load %s: %w", streamID, err)
	}
	return out, nil
}

// ReadAll returns events with Position > afterPosition in position order, at
// most limit of them (DefaultQueryLimit when limit <= 0).
func (s *Store) ReadAll(ctx context.Context, afterPosition uint64, limit int) ([]eventstore.Record, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	if limit <= 0 {
		limit = eventstore.DefaultQueryLimit
	}
	durable := s.durable.Load()
	if afterPosition >= durable {
		return nil, nil
	}
	r, err := s.newReader(afterPosition, durable)
	if err != nil {
		return nil, err
	}
	defer r.close()
	out := make([]eventstore.Record, 0, min(uint64(limit), durable-afterPosition))
	for ok := r.it.First(); ok && len(out) < limit; ok = r.it.Next() {
		rec, err := r.current()
		if err != nil {
			return nil, fmt.Errorf("embedded: read all: %w", err)
		}
		out = append(out, rec)
	}
	if err := r.it.Error(); err != nil {
		return nil, fmt.Errorf("embedded: read all: %w", err)
	}
	return out, nil
}

// Query answers audit queries. With a StreamID it reads that stream's index;
// else with an ActorID or tags it reads the streams that have events with all
// of them (see byPairs); else with an OccurredAt range the time index (see
// keys.go). Index entries whose signature rules the event out are skipped,
// and every condition is checked on each record read. A query with none of
// these (Type alone, or nothing) scans the log from AfterPosition.
func (s *Store) Query(ctx context.Context, f eventstore.Filter) ([]eventstore.Record, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	limit := f.EffectiveLimit()
	durable := s.durable.Load()
	if f.AfterPosition >= durable {
		return nil, nil
	}
	r, err := s.newReader(f.AfterPosition, durable)
	if err != nil {
		return nil, err
	}
	defer r.close()
	q := query{f: f, limit: limit, r: r, ctx: ctx}
	switch {
	case f.StreamID != "":
		err = q.merge(s.db, []string{f.StreamID})
	case f.ActorID != "" || len(f.Tags) > 0:
		err = q.byPairs(s.db)
	case !f.From.IsZero() || !f.To.IsZero():
		err = q.byTime(s.db)
	default:
		err = q.scanLog()
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: query: %w", err)
	}
	return q.out, nil
}

type query struct {
	ctx   context.Context
	f     eventstore.Filter
	limit int
	r     *reader
	out   []eventstore.Record
	seen  int
}

// full reports whether the query has its results.
func (q *query) full() bool { return len(q.out) >= q.limit }

// consider fetches the record at pos and keeps it when it matches.
func (q *query) consider(pos uint64) error {
	if q.seen++; q.seen%ctxCheckEvery == 0 {
		if err := q.ctx.Err(); err != nil {
			return err
		}
	}
	rec, err := q.r.get(pos)
	if err != nil {
		return err
	}
	if q.f.Matches(rec) {
		q.out = append(q.out, rec)
	}
	return nil
}

// byPairs answers a query by actor and/or tags. An event matches only if
// its stream has an index pair for the actor and for every tag, so the
// candidates are the streams of the shortest pair list that also have a pair
// for each other value; their events are merged by position. The lists are
// read in turns, a chunk at a time, until one ends: a query for a student
// of an exam costs the student's streams, not the exam's.
func (q *query) byPairs(db *pebble.DB) error {
	var lists []*pairList
	if q.f.ActorID != "" {
		lists = append(lists, newPairList(prefixActor, q.f.ActorID))
	}
	for _, t := range q.f.Tags {
		lists = append(lists, newPairList(prefixTag, t))
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixActor}, UpperBound: []byte{prefixTag + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	var best *pairList
	for best == nil {
		for _, l := range lists {
			done, err := l.read(it, pairChunk)
			if err != nil {
				return err
			}
			if done {
				best = l
				break
			}
		}
		if err := q.ctx.Err(); err != nil {
			return err
		}
	}
	streams := best.streams[:0]
	var key []byte
	for _, st := range best.streams {
		ok := true
		for _, l := range lists {
			if l == best || !ok {
				continue
			}
			key = pairKey(key[:0], l.prefix[0], l.value, st)
			ok = it.SeekGE(key) && string(it.Key()) == string(key)
		}
		if ok {
			streams = append(streams, st)
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	return q.merge(db, streams)
}

// pairChunk is how many streams byPairs reads of one list in a turn.
const pairChunk = 256

// pairList reads the streams of an actor or tag.
type pairList struct {
	prefix  []byte // pairPrefix
	value   string
	next    []byte // the key to resume from
	streams []string
}

func newPairList(prefix byte, value string) *pairList {
	p := pairPrefix(nil, prefix, value)
	return &pairList{prefix: p, value: value, next: slices.Clone(p)}
}

// read reads up to n more streams and reports whether the list is complete.
func (l *pairList) read(it *pebble.Iterator, n int) (done bool, err error) {
	for ok := it.SeekGE(l.next); ok && bytes.HasPrefix(it.Key(), l.prefix); ok = it.Next() {
		if n == 0 {
			l.next = append(l.next[:0], it.Key()...)
			return false, nil
		}
		n--
		rest := it.Key()[len(l.prefix):]
		size, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) != size {
			return false, errCorrupt
		}
		l.streams = append(l.streams, string(rest[w:]))
	}
	return true, it.Error()
}

// merge reads the events of the given streams that may match the query, in
// position order: one cursor per stream over the events its 'S' entries list
// (those with after < position <= durable whose signature does not rule
// them out), a heap of cursors by next position, and each popped position's
// record read from the log and checked. The cursors share one iterator; each
// reads its stream's events a buffer at a time.
func (q *query) merge(db *pebble.DB, streams []string) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixStream}, UpperBound: []byte{prefixStream + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	m := merger{it: it, after: q.r.after, durable: q.r.durable, sig: filterSig(&q.f)}
	var h cursorHeap
	for _, st := range streams {
		if q.seen++; q.seen%ctxCheckEvery == 0 {
			if err := q.ctx.Err(); err != nil {
				return err
			}
		}
		c, err := m.open(st)
		if err != nil {
			return err
		}
		if c != nil {
			h = append(h, c)
		}
	}
	heap.Init(&h)
	for len(h) > 0 && !q.full() {
		c := h[0]
		if err := q.consider(c.buf[c.head]); err != nil {
			return err
		}
		if c.head++; c.head == len(c.buf) {
			if err := m.fill(c); err != nil {
				return err
			}
			if len(c.buf) == 0 {
				heap.Pop(&h)
				continue
			}
		}
		heap.Fix(&h, 0)
	}
	return nil
}

// A cursor reads firstCursorBatch matching events first (rounded up to whole
// appends), twice as many each time after, up to maxCursorBatch: a query
// over many streams whose page ends early reads little of each.
const (
	firstCursorBatch = 4
	maxCursorBatch   = 64
)

// maxSkip is how many versions at or before AfterPosition opening a cursor
// may leave for fill to skip rather than search further.
const maxSkip = 16

type merger struct {
	it             *pebble.Iterator
	after, durable uint64
	sig            uint64 // what a matching entry's signature must contain
	key            []byte
}

// cursor walks one stream's index from version next.
type cursor struct {
	prefix []byte   // streamPrefix
	next   int64    // the next version to read; 0 when the stream is done
	buf    []uint64 // positions read and not yet consumed: buf[head:]
	head   int
	batch  int // how many matching events the next fill reads
}

// open returns a cursor on the stream's first entries after q.after, or nil
// when it has none.
func (m *merger) open(stream string) (*cursor, error) {
	c := &cursor{prefix: streamPrefix(nil, stream), next: 1, batch: firstCursorBatch}
	if m.after > 0 {
		// Find the first version after m.after. Positions grow with
		// versions, and versions run from 1 to the stream's last one, so
		// it is a search in a sorted array: by interpolation (streams of
		// one exam interleave about evenly in the log), every other probe
		// halving the range so that the worst case stays logarithmic,
		// until few enough versions remain for fill to skip them.
		m.key = prefixEnd(c.prefix)
		if !m.it.SeekLT(m.key) || !c.owns(m.it.Key()) {
			return nil, m.it.Error()
		}
		run, err := decodeStreamRun(m.it.Key(), m.it.Value())
		if err != nil {
			return nil, err
		}
		hi, phi := run.last, run.posOf(run.last)
		if phi <= m.after {
			return nil, nil
		}
		// pos(lo) <= after < pos(hi); version 0 stands for position 0.
		lo, plo := int64(0), uint64(0)
		for i := 0; hi-lo > maxSkip; i++ {
			g := lo + (hi-lo)/2
			if i%2 == 0 {
				g = lo + int64(float64(hi-lo)*float64(m.after-plo)/float64(phi-plo))
				g = min(max(g, lo+1), hi-1)
			}
			p, err := m.posAt(c, g)
			if err != nil {
				return nil, err
			}
			if p > m.after {
				hi, phi = g, p
			} else {
				lo, plo = g, p
			}
		}
		c.next = lo + 1
	}
	if err := m.fill(c); err != nil || len(c.buf) == 0 {
		return nil, err
	}
	return c, nil
}

func (c *cursor) owns(key []byte) bool {
	return len(key) == len(c.prefix)+8 && bytes.HasPrefix(key, c.prefix)
}

// posAt reads the position of a version that exists.
func (m *merger) posAt(c *cursor, version int64) (uint64, error) {
	m.key = appendU64(append(m.key[:0], c.prefix...), uint64(version))
	if !m.it.SeekGE(m.key) || !c.owns(m.it.Key()) {
		if err := m.it.Error(); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("stream index lacks version %d: %w", version, errCorrupt)
	}
	run, err := decodeStreamRun(m.it.Key(), m.it.Value())
	if err != nil {
		return 0, err
	}
	if version < run.first {
		return 0, fmt.Errorf("stream index lacks version %d: %w", version, errCorrupt)
	}
	return run.posOf(version), nil
}

// fill replaces c's buffer with the positions of its next matching events
// (none when the stream has no more).
func (m *merger) fill(c *cursor) error {
	c.buf, c.head = c.buf[:0], 0
	if c.next == 0 {
		return nil
	}
	m.key = appendU64(append(m.key[:0], c.prefix...), uint64(c.next))
	for ok := m.it.SeekGE(m.key); ok && c.owns(m.it.Key()); ok = m.it.Next() {
		run, err := decodeStreamRun(m.it.Key(), m.it.Value())
		if err != nil {
			return err
		}
		for v := max(c.next, run.first); v <= run.last; v++ {
			pos := run.posOf(v)
			if pos > m.durable {
				c.next = 0 // versions of one stream are in position order
				return nil
			}
			if run.sigOf(v)&m.sig == m.sig && pos > m.after {
				c.buf = append(c.buf, pos)
			}
		}
		c.next = run.last + 1
		if len(c.buf) >= c.batch {
			// The whole append is read: the buffer may hold a few more.
			c.batch = min(2*c.batch, maxCursorBatch)
			return nil
		}
	}
	c.next = 0
	return m.it.Error()
}

// cursorHeap is a min-heap of cursors by their next position
// (container/heap.Interface).
type cursorHeap []*cursor

func (h cursorHeap) Len() int           { return len(h) }
func (h cursorHeap) Less(i, j int) bool { return h[i].buf[h[i].head] < h[j].buf[h[j].head] }
func (h cursorHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)        { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	n := len(old) - 1
	c := old[n]
	old[n] = nil
	*h = old[:n]
	return c
}

// byTime collects the position ranges the time index names for the minutes
// of [From, To), merges them and reads them in position order. Too many
// ranges fall back to a log scan.
func (q *query) byTime(db *pebble.DB) error {
	o := &pebble.IterOptions{LowerBound: []byte{prefixTime}, UpperBound: []byte{prefixTime + 1}}
	if !q.f.From.IsZero() {
		o.LowerBound = timePrefix(nil, minuteOf(q.f.From))
	}
	if !q.f.To.IsZero() {
		// To is exclusive: the last minute is the one of To - 1ns.
		o.UpperBound = timePrefix(nil, minuteOf(q.f.To.Add(-time.Nanosecond))+1)
	}
	it, err := db.NewIter(o)
	if err != nil {
		return err
	}
	var ranges []posRange
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		if len(v) != 8 {
			_ = it.Close()
			return errCorrupt
		}
		rg := posRange{first: posSuffix(it.Key()), last: binary.BigEndian.Uint64(v)}
		rg.first, rg.last = max(rg.first, q.r.after+1), min(rg.last, q.r.durable)
		if rg.first > rg.last {
			continue
		}
		if len(ranges) == maxTimeRanges {
			_ = it.Close()
			return q.scanLog()
		}
		ranges = append(ranges, rg)
	}
	if err := it.Close(); err != nil {
		return err
	}
	slices.SortFunc(ranges, func(a, b posRange) int { return cmp.Compare(a.first, b.first) })
	next := uint64(0) // first position not read yet
	for _, rg := range ranges {
		for p := max(rg.first, next); p <= rg.last && !q.full(); p++ {
			if err := q.consider(p); err != nil {
				return err
			}
		}
		next = max(next, rg.last+1)
		if q.full() {
			break
		}
	}
	return nil
}

func (q *query) scanLog() error {
	for ok := q.r.it.First(); ok && !q.full(); ok = q.r.it.Next() {
		if q.seen++; q.seen%ctxCheckEvery == 0 {
			if err := q.ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := q.r.current()
		if err != nil {
			return err
		}
		if q.f.Matches(rec) {
			q.out = append(q.out, rec)
		}
	}
	return q.r.it.Error()
}

// reader reads log records with after < position <= durable through one
// iterator, by seeking forward (positions are asked for in increasing order).
type reader struct {
	it             *pebble.Iterator
	after, durable uint64
	key            []byte
	next           uint64 // the position after the one get read last; 0: none
}

func (s *Store) newReader(after, durable uint64) (*reader, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: logKey(nil, after+1),
		UpperBound: logKey(nil, durable+1),
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: new iterator: %w", err)
	}
	return &reader{it: it, after: after, durable: durable}, nil
}

func (r *reader) close() { _ = r.it.Close() }

// get returns the record at pos.
func (r *reader) get(pos uint64) (eventstore.Record, error) {
	r.key = logKey(r.key[:0], pos)
	if r.next == pos && r.it.Next() && string(r.it.Key()) == string(r.key) {
		// The usual case when reading a stream written in one go: the
		// next position follows the last one read.
		r.next = pos + 1
		return r.current()
	}
	r.next = pos + 1
	if !r.it.SeekGE(r.key) || string(r.it.Key()) != string(r.key) {
		if err := r.it.Error(); err != nil {
			return eventstore.Record{}, err
		}
		return eventstore.Record{}, fmt.Errorf("position %d is indexed but not in the log: %w", pos, errCorrupt)
	}
	return r.current()
}

// current decodes the record under the iterator.
func (r *reader) current() (eventstore.Record, error) {
	k := r.it.Key()
	if len(k) != 9 {
		return eventstore.Record{}, errCorrupt
	}
	v, err := r.it.ValueAndErr()
	if err != nil {
		return eventstore.Record{}, err
	}
	return decodeRecord(v, binary.BigEndian.Uint64(k[1:]))
}
