package embedded

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/examhall/exam/eventstore"
)

// Key layout (data format 2).
//
// Every key starts with a one-byte table prefix. A string that is followed by
// more key bytes is written as uvarint(len) + bytes ("str(x)" below), so that
// the keys of one stream, actor or tag are never a prefix of another's.
// Integers are fixed-width big-endian so that byte order is numeric order.
//
//	'L' pos(8)                    → record (see encodeRecord)           global log
//	'S' str(stream) version(8)    → pos(8) sig(8)…                      stream index: one
//	                                key per append, version its last one, pos that of its
//	                                first event, one sig per event
//	'E' eventID                   → pos(8) uvarint(i) uvarint(n-1-i)    event-id index: the
//	                                event is the i-th of an append of n events
//	'A' str(actorID) str(stream)  → empty                               actor → streams
//	'G' str(tag) str(stream)      → empty                               tag → streams
//	'O' minute(8) first(8)        → last(8)                             sparse time index
//	'C' name                      → pos(8)                              checkpoints
//	'M' "lastpos"                 → pos(8)                              last committed position
//	'M' "format"                  → uvarint(dataFormat)                 data format version
//
// Every event writes one 'L' and one 'E' key, every append one 'S' key: the
// events of an append have consecutive versions and positions, so its 'S'
// value holds the position of the first and, per event, its signature (an
// append of n events has versions version-n+1..version at positions
// pos..pos+n-1). SeekGE to str(stream) v finds the append holding version v.
// An autosave batch of eight events writes 2.1 keys per event, not 3. The
// first layout of data format 2 wrote one 'S' key per event: the same
// encoding, every append being of one event. The actor and tag indexes are
// per stream, not per event: an 'A' or 'G' key says "this stream holds at
// least one event with this actor / tag", and is written with the first such
// event (the committer remembers, per cached stream, the pairs it has
// written, so an attempt stream whose events all carry the same student
// actor and exam/student tags writes them once; rewriting a pair it forgot
// is a harmless overwrite). A query by actor or tags intersects the streams
// of each of them, merges those streams' 'S' entries by position and checks
// every record it reads against the whole filter (see read.go). The price is
// on the read side: a page of a tag shared by many streams (an exam's tag
// over its attempt streams) costs a few seeks per stream, where a per-event
// index was one range scan; in exchange an intersection (an exam's and a
// student's tag, an actor and a tag) reads only the streams having both,
// where a per-event index read every event of the first tag.
//
// An event's sig is a 64-bit Bloom signature of its actor, tags and type
// (see sigItem): two bits per item. Queries skip the events whose signature
// lacks a bit of what they look for without reading their records, so a
// stream where few events match the query costs a scan of its small 'S'
// entries, not of its records. A stream's version is the version of its last
// 'S' key (cached in memory).
//
// Each group commit also writes the 'M' "lastpos" key and one 'O' key per
// distinct minute of OccurredAt among its events: "some events of minute m
// are at positions first..last" (minute = Unix seconds / 60, sign bit flipped
// so that byte order is time order). Events are committed close to when they
// occur, so a group usually writes a single 'O' key: the time index costs
// almost nothing per event, and a time query reads only the position ranges
// it names.
//
// There is no type index: a query by Type alone scans the log (types are
// better combined with a stream, actor or tag, which are indexed).
//
// Data format 1 (before the per-stream actor and tag indexes) wrote one 'A'
// and one 'G' key per event with the position in the key, and an 8-byte 'S'
// value. Open refuses a directory in that format (no 'M' "format" key but
// events) with errDataFormat: there is no migration, as no production data
// was ever written in it.
const (
	prefixLog        = 'L'
	prefixStream     = 'S'
	prefixEventID    = 'E'
	prefixActor      = 'A'
	prefixTag        = 'G'
	prefixTime       = 'O'
	prefixCheckpoint = 'C'
	prefixMeta       = 'M'
)

// dataFormat is the key layout this code reads and writes.
const dataFormat = 2

var metaFormatKey = []byte{prefixMeta, 'f', 'o', 'r', 'm', 'a', 't'}

var metaLastPosKey = []byte{prefixMeta, 'l', 'a', 's', 't', 'p', 'o', 's'}

func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func logKey(b []byte, pos uint64) []byte {
	return appendU64(append(b, prefixLog), pos)
}

// streamPrefix is 'S' str(stream); the stream's keys follow it with a version.
func streamPrefix(b []byte, stream string) []byte {
	return appendStr(append(b, prefixStream), stream)
}

func streamKey(b []byte, stream string, version int64) []byte {
	return appendU64(streamPrefix(b, stream), uint64(version))
}

func eventIDKey(b []byte, id string) []byte {
	return append(append(b, prefixEventID), id...)
}

// pairPrefix is prefix str(value) for the actor and tag indexes; the keys
// follow it with str(stream).
func pairPrefix(b []byte, prefix byte, value string) []byte {
	return appendStr(append(b, prefix), value)
}

func pairKey(b []byte, prefix byte, value, stream string) []byte {
	return appendStr(pairPrefix(b, prefix, value), stream)
}

// streamRun is a decoded 'S' entry: the events of one append.
type streamRun struct {
	first, last int64  // versions
	pos         uint64 // position of version first
	sigs        []byte // 8 bytes per event; aliases the value read
}

// decodeStreamRun decodes an 'S' key and its value.
func decodeStreamRun(key, v []byte) (streamRun, error) {
	if len(v) < 16 || len(v)%8 != 0 || len(key) < 9 {
		return streamRun{}, errCorrupt
	}
	last := int64(posSuffix(key))
	run := streamRun{first: last - int64(len(v)/8-1) + 1, last: last, pos: binary.BigEndian.Uint64(v), sigs: v[8:]}
	if run.first < 1 || last < run.first {
		return streamRun{}, errCorrupt
	}
	return run, nil
}

// posOf is the position of a version of the run.
func (r *streamRun) posOf(version int64) uint64 { return r.pos + uint64(version-r.first) }

// sigOf is the signature of a version of the run.
func (r *streamRun) sigOf(version int64) uint64 {
	return binary.BigEndian.Uint64(r.sigs[8*(version-r.first):])
}

// Kinds of signature items.
const (
	sigActor = 'a'
	sigTag   = 't'
	sigType  = 'y'
)

// sigItem is the signature bits of one item (actor, tag or type): two of 64
// bits, chosen by FNV-1a of kind+value and a final mix. It is stored on disk
// (in 'S' values): it must never change within a data format.
func sigItem(kind byte, value string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	h = (h ^ uint64(kind)) * prime
	for i := 0; i < len(value); i++ {
		h = (h ^ uint64(value[i])) * prime
	}
	// murmur3's fmix64: every input bit affects the low 12 bits used below.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return 1<<(h&63) | 1<<((h>>6)&63)
}

// eventSig is the signature of an event: its actor (when set), tags and type.
func eventSig(r *eventstore.Record) uint64 {
	sig := sigItem(sigType, r.Type)
	if r.ActorID != "" {
		sig |= sigItem(sigActor, r.ActorID)
	}
	for _, t := range r.Tags {
		sig |= sigItem(sigTag, t)
	}
	return sig
}

// filterSig is what the signature of an event matching f must contain.
func filterSig(f *eventstore.Filter) uint64 {
	var sig uint64
	if f.Type != "" {
		sig |= sigItem(sigType, f.Type)
	}
	if f.ActorID != "" {
		sig |= sigItem(sigActor, f.ActorID)
	}
	for _, t := range f.Tags {
		sig |= sigItem(sigTag, t)
	}
	return sig
}

// minuteOf is the time index bucket of t.
func minuteOf(t time.Time) int64 {
	sec := t.Unix()
	m := sec / 60
	if sec < 0 && sec%60 != 0 {
		m-- // floor, not truncation, before 1970
	}
	return m
}

func timePrefix(b []byte, minute int64) []byte {
	return appendU64(append(b, prefixTime), uint64(minute)^(1<<63))
}

func timeKey(b []byte, minute int64, first uint64) []byte {
	return appendU64(timePrefix(b, minute), first)
}

func checkpointKey(b []byte, name string) []byte {
	return append(append(b, prefixCheckpoint), name...)
}

// prefixEnd returns the smallest key greater than every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// posSuffix reads the position (or version) that ends a key.
func posSuffix(key []byte) uint64 {
	return binary.BigEndian.Uint64(key[len(key)-8:])
}

// idEntry is what the event-id index tells about a stored event: where it
// is, and that it is the i-th of an append of n events (i = back, n =
// back+ahead+1). Positions within one append are consecutive, so an event
// id found at the position and index expected proves the same append.
type idEntry struct {
	pos         uint64
	back, ahead int64
	// Known for events of the group being built; for stored events they
	// are read from the log when needed (retries only).
	stream  string
	version int64
}

func encodeIDEntry(b []byte, e idEntry) []byte {
	b = appendU64(b, e.pos)
	b = binary.AppendUvarint(b, uint64(e.back))
	return binary.AppendUvarint(b, uint64(e.ahead))
}

func decodeIDEntry(v []byte) (idEntry, error) {
	if len(v) < 10 {
		return idEntry{}, errCorrupt
	}
	e := idEntry{pos: binary.BigEndian.Uint64(v)}
	back, n := binary.Uvarint(v[8:])
	if n <= 0 {
		return idEntry{}, errCorrupt
	}
	ahead, m := binary.Uvarint(v[8+n:])
	if m <= 0 || 8+n+m != len(v) {
		return idEntry{}, errCorrupt
	}
	e.back, e.ahead = int64(back), int64(ahead)
	return e, nil
}

var errCorrupt = errors.New("embedded: corrupt record")

// errDataFormat: the directory holds data in a key layout this code does not
// read.
var errDataFormat = errors.New("embedded: unsupported data format")

// Record encoding (the value of an 'L' key; the position is the key):
//
//	format byte (1)
//	version    uint64, 8 bytes big-endian (fixed, so it can be patched in place)
//	str(eventID) str(streamID) str(type)
//	varint(unix seconds) uvarint(nanoseconds)
//	str(actorID) str(actorRole) str(correlationID) str(causationID)
//	uvarint(len(tags)) str(tag)…
//	uvarint(len(data)) data
const recordFormat = 1

// encodeRecord appends r's encoding, r.Version included, to b.
func encodeRecord(b []byte, r *eventstore.Record) []byte {
	b = append(b, recordFormat)
	b = appendU64(b, uint64(r.Version))
	b = appendStr(b, r.EventID)
	b = appendStr(b, r.StreamID)
	b = appendStr(b, r.Type)
	b = binary.AppendVarint(b, r.OccurredAt.Unix())
	b = binary.AppendUvarint(b, uint64(r.OccurredAt.Nanosecond()))
	b = appendStr(b, r.ActorID)
	b = appendStr(b, r.ActorRole)
	b = appendStr(b, r.CorrelationID)
	b = appendStr(b, r.CausationID)
	b = binary.AppendUvarint(b, uint64(len(r.Tags)))
	for _, t := range r.Tags {
		b = appendStr(b, t)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Data)))
	return append(b, r.Data...)
}

// recordVersionOffset is where encodeRecord puts the version.
const recordVersionOffset = 1

func encodedSize(r *eventstore.Record) int {
	n := 1 + 8 + 10 + 5
	n += len(r.EventID) + len(r.StreamID) + len(r.Type) + len(r.ActorID) + len(r.ActorRole) +
		len(r.CorrelationID) + len(r.CausationID) + len(r.Data) + 10*(8+len(r.Tags))
	for _, t := range r.Tags {
		n += len(t)
	}
	return n
}

// decodeRecord decodes a value written by encodeRecord. The strings share
// one copy of v; Data gets its own copy, so v may be reused afterwards.
func decodeRecord(v []byte, pos uint64) (eventstore.Record, error) {
	if len(v) < 9 || v[0] != recordFormat {
		return eventstore.Record{}, errCorrupt
	}
	s := string(v) // one allocation for every string field
	d := decoder{s: s, i: 9}
	r := eventstore.Record{
		Version:  int64(binary.BigEndian.Uint64(v[recordVersionOffset:])),
		Position: pos,
	}
	r.EventID = d.str()
	r.StreamID = d.str()
	r.Type = d.str()
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.err = true
	}
	r.OccurredAt = time.Unix(sec, int64(nsec)).UTC()
	if r.OccurredAt.Unix() != sec {
		d.err = true // out of time.Time's range: not something we wrote
	}
	r.ActorID = d.str()
	r.ActorRole = d.str()
	r.CorrelationID = d.str()
	r.CausationID = d.str()
	if n := d.uvarint(); n > 0 && !d.err {
		if n > uint64(len(s)-d.i) {
			return eventstore.Record{}, errCorrupt
		}
		r.Tags = make([]string, n)
		for i := range r.Tags {
			r.Tags[i] = d.str()
		}
	}
	data := d.str()
	if d.err || d.i != len(s) {
		return eventstore.Record{}, errCorrupt
	}
	if len(data) > 0 {
		r.Data = []byte(data)
	}
	return r, nil
}

type decoder struct {
	s   string
	i   int
	err bool
}

func (d *decoder) uvarint() uint64 {
	var x uint64
	var shift uint
	for j := 0; j < binary.MaxVarintLen64; j++ {
		if d.i >= len(d.s) {
			break
		}
		c := d.s[d.i]
		d.i++
		if c < 0x80 {
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.err = true
	return 0
}

func (d *decoder) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err || n > uint64(len(d.s)-d.i) {
		d.err = true
		return ""
	}
	v := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return v
}
