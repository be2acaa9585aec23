package cassandra

import (
	"sync"
	"time"
)

// A position packs the moment an append was prepared and who prepared it:
//
//	bits 63..23  milliseconds since positionEpoch (41 bits: until 2089)
//	bits 22..13  the writer id the process holds (10 bits, see writerid.go)
//	bits 12..0   a sequence within that millisecond (13 bits)
//
// Positions are unique (one writer id per live process, and the process's
// generator never hands one out twice), and their order is the feed's order:
// time first. The events of one append get consecutive positions.
const (
	seqBits    = 13
	writerBits = 10
	timeShift  = seqBits + writerBits
	maxSeq     = 1 << seqBits
	maxWriters = 1 << writerBits
)

var positionEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func positionMillis(pos uint64) int64 { return int64(pos >> timeShift) }

// positionTime is the moment a position was handed out.
func positionTime(pos uint64) time.Time {
	return positionEpoch.Add(time.Duration(positionMillis(pos)) * time.Millisecond)
}

// timePosition is the lowest position of moment t.
func timePosition(t time.Time) uint64 {
	ms := t.Sub(positionEpoch).Milliseconds()
	if ms < 0 {
		return 0
	}
	return uint64(ms) << timeShift
}

// feedBucket is the feed partition's minute; busy minutes are spread over
// feedShards partitions by the position's low bits.
func feedBucket(pos uint64) int64 { return positionMillis(pos) / 60_000 }

func feedShard(pos uint64) int { return int(pos % feedShards) }

// dayBucket buckets the audit query tables by the day of the position.
func dayBucket(pos uint64) int64 { return positionMillis(pos) / 86_400_000 }

// positions hands out this process's positions: strictly increasing, never
// below a floor the caller gives (the stream's last position, so that a
// stream's versions stay in feed order whatever the clocks of the machines
// that wrote them).
type positions struct {
	mu     sync.Mutex
	writer uint64
	ms     int64
	seq    int
	now    func() time.Time
}

// next returns the first of n consecutive positions above floor.
func (g *positions) next(n int, floor uint64) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := g.now().Sub(positionEpoch).Milliseconds()
	if f := positionMillis(floor); f >= ms {
		ms = f + 1 // a later version must sort after the stream's last event
	}
	if ms > g.ms {
		g.ms, g.seq = ms, 0
	}
	if g.seq+n > maxSeq { // the millisecond is used up: borrow the next
		g.ms, g.seq = g.ms+1, 0
	}
	pos := uint64(g.ms)<<timeShift | g.writer<<seqBits | uint64(g.seq)
	g.seq += n
	return pos
}

// last is the highest position handed out so far (0 if none).
func (g *positions) last() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seq == 0 {
		return 0
	}
	return uint64(g.ms)<<timeShift | g.writer<<seqBits | uint64(g.seq-1)
}
