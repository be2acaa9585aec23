// Package eventstore defines the event store port shared by every backend, the
// envelope it moves, and the errors callers branch on.
//
// The store moves opaque envelopes: a stream id, a version, a type name and JSON
// bytes. It never imports the domain; what an event means is not its business.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Expected-version values with special meaning for Append.
const (
	// NoStream demands that the stream does not exist yet (version 0).
	NoStream int64 = 0
	// AnyVersion appends at the end whatever the current version is.
	AnyVersion int64 = -1
)

// Record is one stored event: its envelope plus opaque JSON data.
type Record struct {
	// EventID is a UUID, unique across the store. Appending a record whose id
	// is already stored in the same stream is a retry: nothing is appended.
	EventID string
	// StreamID is "<category>-<id>", e.g. "exam-0b6c…". The category (the part
	// before the first '-') selects the bus topic.
	StreamID string
	// Version is the 1-based position within the stream, assigned by Append.
	Version int64
	// Position is the global position, assigned by the store on commit.
	// Positions strictly increase in commit order; a backend may leave gaps.
	Position uint64
	// Type is the explicit, versioned event type name, e.g. "exam.published.v1".
	Type string
	// OccurredAt is set by the caller from its injected clock (UTC).
	OccurredAt time.Time
	// Who caused the event; ActorRole is "admin", "doctor", "student" or "system".
	ActorID   string
	ActorRole string
	// CorrelationID ties together everything one request caused; CausationID
	// names the event or request that directly caused this one.
	CorrelationID string
	CausationID   string
	// Tags are index keys for audit queries, e.g. "exam:<uuid>", "student:<uuid>".
	Tags []string
	// Data is the event's JSON payload.
	Data []byte
}

// Category returns the part of a stream id before the first '-'.
func Category(streamID string) string {
	if i := strings.IndexByte(streamID, '-'); i >= 0 {
		return streamID[:i]
	}
	return streamID
}

// AppendResult tells where an append landed.
type AppendResult struct {
	// FromVersion and ToVersion are the stream versions of the first and last
	// appended event (of the original append when Duplicate is true).
	FromVersion, ToVersion int64
	// LastPosition is the global position of the last appended event.
	LastPosition uint64
	// Duplicate is true when the events were already stored (a retried append
	// with the same event ids): nothing new was appended.
	Duplicate bool
}

// Sentinel errors callers branch on.
var (
	// ErrVersionConflict: the stream is not at the expected version.
	ErrVersionConflict = errors.New("eventstore: version conflict")
	// ErrDuplicateEventID: an event id is already stored, but not as a plain
	// retry of the same append (another stream, or only some of the events).
	ErrDuplicateEventID = errors.New("eventstore: duplicate event id")
	// ErrInvalidAppend: the append itself is malformed (empty stream id,
	// missing event id or type, no events, a bad expected version).
	ErrInvalidAppend = errors.New("eventstore: invalid append")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("eventstore: closed")
)

// ConflictError carries the details of a version conflict. It matches
// ErrVersionConflict with errors.Is.
type ConflictError struct {
	StreamID string
	Expected int64
	Actual   int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("eventstore: version conflict on %s: expected %d, stream is at %d", e.StreamID, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrVersionConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrVersionConflict }

// Filter selects events for audit queries. Empty fields do not filter.
// Results are ordered by global position, ascending.
type Filter struct {
	StreamID string
	ActorID  string
	Type     string
	// Tags: every one must be among the record's Tags, e.g. "exam:<uuid>".
	// Backends index the first and filter the rest.
	Tags []string
	From time.Time // OccurredAt >= From (inclusive), when not zero
	To   time.Time // OccurredAt < To (exclusive), when not zero
	// AfterPosition pages: only events with Position > AfterPosition.
	AfterPosition uint64
	// Limit caps the number of results; 0 means 500.
	Limit int
}

// Matches reports whether a record passes every field of the filter but
// the limit: the one meaning of a filter, for backends that test records in
// Go rather than in their query language.
func (f Filter) Matches(r Record) bool {
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

// DefaultQueryLimit is the cap Query applies when Filter.Limit is 0.
const DefaultQueryLimit = 500

// EffectiveLimit is the number of records Query may return for f: Limit,
// or DefaultQueryLimit when Limit is not positive. Every backend applies it.
func (f Filter) EffectiveLimit() int {
	if f.Limit <= 0 {
		return DefaultQueryLimit
	}
	return f.Limit
}

// Store is the event store port.
type Store interface {
	// Append appends events to a stream at exactly the next versions after
	// expectedVersion (NoStream, AnyVersion, or a version >= 1), all or
	// nothing, durable before it returns. It fills Version and Position in the
	// returned copy only; callers read positions from AppendResult.
	// A retry whose first event id is already stored in the same stream
	// returns that original result with Duplicate set, whatever expectedVersion.
	Append(ctx context.Context, streamID string, expectedVersion int64, events []Record) (AppendResult, error)
	// Load returns the stream's events with Version >= fromVersion, in order.
	// A stream that does not exist yields an empty slice and no error.
	Load(ctx context.Context, streamID string, fromVersion int64) ([]Record, error)
	// ReadAll reads the global feed: events with Position > afterPosition in
	// position order, at most limit of them. It never skips an event that
	// becomes visible later at a lower position.
	ReadAll(ctx context.Context, afterPosition uint64, limit int) ([]Record, error)
	// Query answers audit queries.
	Query(ctx context.Context, f Filter) ([]Record, error)
	// Head is the position of the last event ReadAll can return now.
	Head(ctx context.Context) (uint64, error)
	// Close releases the store; further calls return ErrClosed.
	Close() error
}

// Waiter is implemented by stores that can signal new events, so tailers need
// not poll. WaitForEvents blocks until Head > afterPosition or ctx ends.
type Waiter interface {
	WaitForEvents(ctx context.Context, afterPosition uint64) error
}

// CheckpointStore keeps named positions durably (relay and projector checkpoints).
type CheckpointStore interface {
	LoadCheckpoint(ctx context.Context, name string) (uint64, error)
	SaveCheckpoint(ctx context.Context, name string, position uint64) error
}
