package cassandra

import (
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/examhall/exam/eventstore"
)

// row is one stored event with where its append put it.
type row struct {
	rec                              eventstore.Record
	appendFrom, appendTo, appendLast int64
}

// values are eventCols' values, in order.
func (r *row) values() []any {
	rec := &r.rec
	return []any{rec.StreamID, rec.Version, rec.EventID, int64(rec.Position), rec.Type,
		rec.OccurredAt.UnixMicro(), rec.ActorID, rec.ActorRole, rec.CorrelationID, rec.CausationID,
		rec.Tags, rec.Data, r.appendFrom, r.appendTo, r.appendLast}
}

// scanRow reads eventCols (then extra) from it into a row.
func scanRow(it *gocql.Iter, extra ...any) (row, bool) {
	var r row
	var pos, occurred int64
	var tags []string
	dest := append([]any{&r.rec.StreamID, &r.rec.Version, &r.rec.EventID, &pos, &r.rec.Type,
		&occurred, &r.rec.ActorID, &r.rec.ActorRole, &r.rec.CorrelationID, &r.rec.CausationID,
		&tags, &r.rec.Data, &r.appendFrom, &r.appendTo, &r.appendLast}, extra...)
	if !it.Scan(dest...) {
		return row{}, false
	}
	r.rec.Position = uint64(pos)
	r.rec.OccurredAt = time.UnixMicro(occurred).UTC()
	if len(tags) > 0 {
		r.rec.Tags = tags
	}
	if len(r.rec.Data) == 0 {
		r.rec.Data = nil
	}
	return r, true
}

// partitionOf is the events partition an append starting at version goes to.
func (s *Store) partitionOf(version int64) int64 { return (version - 1) / s.bucket }

// headCache remembers the partition of each stream's last known version,
// so finding the head of a long stream reads one or two partitions.
type headCache struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *headCache) get(stream string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[stream]
}

func (c *headCache) put(stream string, p int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 100_000 {
		c.m = map[string]int64{}
	}
	c.m[stream] = p
}

// bucketCache remembers which (key, bucket) index rows this process has
// written, so each is written about once per process.
type bucketCache struct {
	mu sync.Mutex
	m  map[bucketKey]bool
}

type bucketKey struct {
	key    string
	bucket int64
}

func (c *bucketCache) seen(k bucketKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *bucketCache) add(k bucketKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 100_000 {
		c.m = map[bucketKey]bool{}
	}
	c.m[k] = true
}
