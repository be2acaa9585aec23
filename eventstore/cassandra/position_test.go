package cassandra

import (
	"testing"
	"time"
)

// Positions from one generator strictly increase, an append's n positions
// are consecutive and in one millisecond, a floor from another writer's
// clock ahead of ours is respected, and the parts decode back.
func TestPositions(t *testing.T) {
	if MaxAppend > maxSeq || MaxAppend > streamBucket {
		t.Fatalf("MaxAppend %d must fit one millisecond's sequence (%d) and one partition (%d)", MaxAppend, maxSeq, streamBucket)
	}
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	g := positions{writer: 517, now: func() time.Time { return now }}
	var last uint64
	for i, n := range []int{1, 1, 3, maxSeq - 2, 8, 1, maxSeq, 1} {
		p := g.next(n, 0)
		if p <= last {
			t.Fatalf("append %d: position %d after %d", i, p, last)
		}
		if positionMillis(p) != positionMillis(p+uint64(n)-1) || (p>>seqBits)&(maxWriters-1) != 517 {
			t.Fatalf("append %d of %d: %x does not keep its millisecond and writer id", i, n, p)
		}
		last = p + uint64(n) - 1
		if g.last() != last {
			t.Fatalf("last() = %d, want %d", g.last(), last)
		}
	}
	if got := positionTime(timePosition(now)); !got.Equal(now) {
		t.Fatalf("positionTime(timePosition(t)) = %v, want %v", got, now)
	}
	// A stream whose last event came from a writer 5 s ahead of our clock.
	ahead := timePosition(now.Add(5*time.Second)) | 3<<seqBits | 7
	if p := g.next(1, ahead); p <= ahead {
		t.Fatalf("position %d not above the floor %d", p, ahead)
	}
	if p := g.next(1, 0); p <= ahead {
		t.Fatalf("positions went back after a floor: %d", p)
	}
	if feedShard(last) < 0 || feedShard(last) >= feedShards || feedBucket(timePosition(now)) != now.Sub(positionEpoch).Milliseconds()/60_000 {
		t.Fatal("bucket or shard out of range")
	}
}
