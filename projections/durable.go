package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/relay"
)

// Delivery says where a record came from on the bus: its topic, partition
// and offset. A durable projection stores it with its rows (the consumer's
// checkpoint, in the same transaction), which is what lets a reader wait for
// a projector to pass a point of the log. The zero Delivery (an in-process
// bus) has no partition and is not stored.
type Delivery struct {
	Topic     string
	Partition int32
	Offset    int64
}

// HasOffset reports whether the delivery names a partition offset.
func (d Delivery) HasOffset() bool { return d.Topic != "" && d.Offset >= 0 }

// DurableProjection folds records into a durable read model (PostgreSQL,
// Redis). ApplyRecord must be idempotent: it applies each (stream, version)
// at most once — an older or equal version of a stream it has seen is a
// redelivery and changes nothing — and writes its own per-stream checkpoint
// in the same transaction as the rows, so a crash between the two is
// impossible. An error means nothing was applied; the record is delivered
// again.
type DurableProjection interface {
	// Name is permanent: it names the Kafka consumer group
	// ("exam.projector.<name>") and the projection's checkpoint rows.
	Name() string
	// Categories lists the stream categories the projection reads.
	Categories() []string
	ApplyRecord(ctx context.Context, rec eventstore.Record, from Delivery) error
}

// DeliveryOf extracts a message's partition and offset; nil means the bus
// has none (the in-process bus).
type DeliveryOf func(msg *message.Message) (partition int32, offset int64, ok bool)

// Consume feeds one durable projection from the bus until ctx ends: every
// message of the topics is decoded and applied; a failed apply is nacked and
// delivered again after a backoff (the projection's store is down — the
// write side never waits for it, the projection catches up when it
// returns); an undecodable message is logged and acknowledged, never retried
// forever.
func Consume(ctx context.Context, sub message.Subscriber, topics []string, p DurableProjection, origin DeliveryOf, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("projection", p.Name())
	for _, topic := range topics {
		msgs, err := sub.Subscribe(ctx, topic)
		if err != nil {
			return fmt.Errorf("projection %s: subscribe %s: %w", p.Name(), topic, err)
		}
		// Several workers per topic: the Kafka subscriber hands each
		// partition's next message over only after the previous one is
		// acked, so at most one message per partition is in flight and
		// per-stream order holds, while different partitions apply in
		// parallel (one transaction each).
		for range consumeWorkers {
			go func() {
				for msg := range msgs {
					consumeOne(ctx, msg, topic, p, origin, log)
				}
			}()
		}
	}
	return nil
}

// consumeWorkers is how many messages of one topic a projection applies at
// once (at most one per partition).
const consumeWorkers = 8

func consumeOne(ctx context.Context, msg *message.Message, topic string, p DurableProjection, origin DeliveryOf, log *slog.Logger) {
	rec, err := relay.DecodeMessage(msg)
	if err != nil {
		log.Error("projection: bad message skipped", "topic", topic, "err", err)
		msg.Ack()
		return
	}
	from := Delivery{Offset: -1}
	if origin != nil {
		if part, off, ok := origin(msg); ok {
			from = Delivery{Topic: topic, Partition: part, Offset: off}
		}
	}
	var wait time.Duration
	for attempt := 0; ; attempt++ {
		err := p.ApplyRecord(ctx, rec, from)
		if err == nil {
			msg.Ack()
			return
		}
		if ctx.Err() != nil || errors.Is(err, context.Canceled) {
			msg.Nack()
			return
		}
		wait = min(max(2*wait, 50*time.Millisecond), 5*time.Second)
		log.Warn("projection: apply failed; retrying", "stream", rec.StreamID, "version", rec.Version, "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			msg.Nack()
			return
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		}
	}
}
