package projections

import (
	"context"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/eventstore"
)

// Projection folds records into a read model, or reacts to them (the
// grader). It is the one interface every read-side consumer implements;
// a Runner feeds it from the store (catch-up, rebuild) and from the bus
// (in-process or Kafka).
//
// Apply gets a batch of records of the projection's categories, each
// stream's records in version order (streams may interleave). It must be
// idempotent per (stream, version): a version at most the one it last
// applied for that stream is a redelivery and changes nothing — in-process
// projections keep a StreamVersions, durable ones keep their checkpoint in
// the same transaction as their rows. A durable projection may apply the
// whole batch in one transaction. An error means the batch is delivered
// again (after a backoff): records of it already applied are skipped by
// the rule above, so a partial failure is harmless.
type Projection interface {
	// Name is permanent: it names the Kafka consumer group
	// ("exam.projector.<name>") and a durable projection's checkpoint rows.
	Name() string
	// Categories lists the stream categories the projection reads; records
	// of other categories are not even decoded for it.
	Categories() []string
	Apply(ctx context.Context, batch []Delivered) error
}

// Delivered is one record handed to a projection.
type Delivered struct {
	Record eventstore.Record
	// Data is the decoded payload; nil for an event type this build does not
	// know or cannot decode (still delivered, so the projection can record
	// the version as applied).
	Data any
	// From says where the record came from.
	From Delivery
}

// Delivery says where a record came from on the bus: its topic, partition
// and offset. A durable projection stores it with its rows (the consumer's
// checkpoint, in the same transaction), which is what lets a reader wait for
// a projector to pass a point of the log. A record read from the store, or
// from an in-process bus, has no partition (Offset -1) and is not stored.
type Delivery struct {
	Topic     string
	Partition int32
	Offset    int64
}

// NoDelivery is the Delivery of a record that did not come from a
// partition.
var NoDelivery = Delivery{Offset: -1}

// HasOffset reports whether the delivery names a partition offset.
func (d Delivery) HasOffset() bool { return d.Topic != "" && d.Offset >= 0 }

// DeliveryOf extracts a message's partition and offset; nil means the bus
// has none (the in-process bus).
type DeliveryOf func(msg *message.Message) (partition int32, offset int64, ok bool)

// StreamVersions remembers the last version applied per stream: the
// exactly-once rule of an in-process projection. Safe for concurrent use.
type StreamVersions struct {
	mu sync.Mutex
	v  map[string]int64
}

// Version is the last version claimed of a stream (0: none).
func (s *StreamVersions) Version(streamID string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.v[streamID]
}

// Claim records rec's version as applied and reports true, or reports
// false for a redelivery (a version at most the last one claimed).
func (s *StreamVersions) Claim(rec eventstore.Record) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.Version <= s.v[rec.StreamID] {
		return false
	}
	if s.v == nil {
		s.v = map[string]int64{}
	}
	s.v[rec.StreamID] = rec.Version
	return true
}
