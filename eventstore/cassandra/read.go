package cassandra

import (
	"context"
	"fmt"

	"github.com/gocql/gocql"

	"github.com/examhall/exam/eventstore"
)

// streamHead returns the stream's last version and its position (0, 0 for
// a stream that does not exist), reading at cons. It starts at the
// partition it last saw the head in and follows the partitions the next
// version may be in.
func (s *Store) streamHead(ctx context.Context, stream string, cons gocql.Consistency) (int64, uint64, error) {
	p := s.heads.get(stream)
	h, hp, ok, err := s.maxIn(ctx, stream, p, cons)
	if err == nil && !ok && p > 0 {
		p = 0
		h, hp, ok, err = s.maxIn(ctx, stream, 0, cons)
	}
	if err != nil || !ok {
		return 0, 0, err
	}
	for {
		np := s.partitionOf(h + 1)
		if np <= p {
			break
		}
		nh, nhp, nok, err := s.maxIn(ctx, stream, np, cons)
		if err != nil {
			return 0, 0, err
		}
		if !nok {
			break
		}
		p, h, hp = np, nh, nhp
	}
	s.heads.put(stream, p)
	return h, hp, nil
}

func (s *Store) maxIn(ctx context.Context, stream string, part int64, cons gocql.Consistency) (int64, uint64, bool, error) {
	var v, pos int64
	err := s.q(ctx, `SELECT version, position FROM events WHERE stream_id = ? AND partition_nr = ? ORDER BY version DESC LIMIT 1`,
		stream, part).Consistency(cons).Scan(&v, &pos)
	if err == gocql.ErrNotFound {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("cassandra: read the head of %s: %w", stream, err)
	}
	return v, uint64(pos), true, nil
}

// rowAt reads one stored event.
func (s *Store) rowAt(ctx context.Context, stream string, part, version int64, cons gocql.Consistency) (row, bool, error) {
	it := s.q(ctx, `SELECT `+eventCols+` FROM events WHERE stream_id = ? AND partition_nr = ? AND version = ?`,
		stream, part, version).Consistency(cons).Iter()
	r, ok := scanRow(it)
	if err := it.Close(); err != nil {
		return row{}, false, fmt.Errorf("cassandra: read %s version %d: %w", stream, version, err)
	}
	return r, ok, nil
}

// Load implements eventstore.Store. Version v is in partition
// partitionOf(v), or in the one before when an append ran over into its
// range; Load reads on while the next version may be further.
func (s *Store) Load(ctx context.Context, streamID string, fromVersion int64) ([]eventstore.Record, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.load(ctx, streamID, fromVersion, 0)
}

// load reads up to limit events (0: all) from fromVersion on.
func (s *Store) load(ctx context.Context, stream string, from int64, limit int) ([]eventstore.Record, error) {
	from = max(from, 1)
	var out []eventstore.Record
	h := from - 1
	for p := max(0, s.partitionOf(from)-1); ; p++ {
		it := s.q(ctx, `SELECT `+eventCols+` FROM events WHERE stream_id = ? AND partition_nr = ? AND version >= ?`,
			stream, p, from).Iter()
		for {
			r, ok := scanRow(it)
			if !ok {
				break
			}
			out = append(out, r.rec)
			h = max(h, r.rec.Version)
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("cassandra: load %s: %w", stream, err)
		}
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		if s.partitionOf(h+1) <= p {
			return out, nil
		}
	}
}

// ensureBucket records that key has rows in bucket (key "" is the feed).
func (s *Store) ensureBucket(ctx context.Context, key string, bucket int64) error {
	k := bucketKey{key, bucket}
	if s.buckets.seen(k) {
		return nil
	}
	var err error
	if key == "" {
		err = s.q(ctx, `INSERT INTO feed_buckets (k, bucket) VALUES (0, ?)`, bucket).Exec()
	} else {
		err = s.q(ctx, `INSERT INTO key_buckets (key, bucket) VALUES (?, ?)`, key, bucket).Exec()
	}
	if err != nil {
		return fmt.Errorf("cassandra: record bucket %d of %q: %w", bucket, key, err)
	}
	s.buckets.add(k)
	return nil
}
