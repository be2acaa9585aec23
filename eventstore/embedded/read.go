package embedded

import (
	"cmp"
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
	for ok := it.First(); ok; ok = it.Next() {
		if len(out)%ctxCheckEvery == ctxCheckEvery-1 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		v := it.Value()
		if len(v) != 8 {
			return nil, fmt.Errorf("embedded: load %s: %w", streamID, errCorrupt)
		}
		pos := binary.BigEndian.Uint64(v)
		if pos > durable {
			break // versions of one stream are in position order
		}
		rec, err := r.get(pos)
		if err != nil {
			return nil, fmt.Errorf("embedded: load %s: %w", streamID, err)
		}
		out = append(out, rec)
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

// Query answers audit queries. One index is used, the first given of:
// StreamID, ActorID, the first tag, the OccurredAt range (sparse index, see
// keys.go); every condition is checked on each record read. A query with none
// of these (Type alone, or nothing) scans the log from AfterPosition.
func (s *Store) Query(ctx context.Context, f eventstore.Filter) ([]eventstore.Record, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	limit := f.Limit
	if limit <= 0 {
		limit = eventstore.DefaultQueryLimit
	}
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
		err = q.byStream(s.db)
	case f.ActorID != "":
		err = q.byIndex(s.db, prefixActor, f.ActorID)
	case len(f.Tags) > 0:
		err = q.byIndex(s.db, prefixTag, f.Tags[0])
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
	if matches(&q.f, &rec) {
		q.out = append(q.out, rec)
	}
	return nil
}

func (q *query) byStream(db *pebble.DB) error {
	prefix := streamPrefix(nil, q.f.StreamID)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok && !q.full(); ok = it.Next() {
		v := it.Value()
		if len(v) != 8 {
			return errCorrupt
		}
		pos := binary.BigEndian.Uint64(v)
		if pos <= q.r.after {
			continue
		}
		if pos > q.r.durable {
			break
		}
		if err := q.consider(pos); err != nil {
			return err
		}
	}
	return it.Error()
}

// byIndex walks an index whose keys end with a position.
func (q *query) byIndex(db *pebble.DB, prefix byte, value string) error {
	p := indexPrefix(nil, prefix, value)
	it, err := db.NewIter(&pebble.IterOptions{
		LowerBound: appendU64(slices.Clip(p), q.r.after+1),
		UpperBound: appendU64(slices.Clip(p), q.r.durable+1),
	})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok && !q.full(); ok = it.Next() {
		if err := q.consider(posSuffix(it.Key())); err != nil {
			return err
		}
	}
	return it.Error()
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
		if matches(&q.f, &rec) {
			q.out = append(q.out, rec)
		}
	}
	return q.r.it.Error()
}

func matches(f *eventstore.Filter, r *eventstore.Record) bool {
	switch {
	case r.Position <= f.AfterPosition,
		f.StreamID != "" && r.StreamID != f.StreamID,
		f.ActorID != "" && r.ActorID != f.ActorID,
		f.Type != "" && r.Type != f.Type,
		!f.From.IsZero() && r.OccurredAt.Before(f.From),
		!f.To.IsZero() && !r.OccurredAt.Before(f.To):
		return false
	}
	for _, t := range f.Tags {
		if !slices.Contains(r.Tags, t) {
			return false
		}
	}
	return true
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
