package kafkabus

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
)

// NewPublisher returns a publisher to Kafka: an idempotent sarama producer
// with acks=all whose records follow the CloudEvents Kafka binding (see
// Marshaler). Publish returns once every message is acknowledged by all
// in-sync replicas, or with an error; the caller (the relay) retries a
// failed call as a whole.
//
// Publish batches: watermill-kafka's Publisher sends one record and waits
// for its acknowledgement before the next (one round trip per event). This
// one sends the messages in waves: wave i holds the i-th message of every
// key (stream) in the call, and goes out in one SendMessages, which the
// producer packs into one request per broker. A stream's next event is sent
// only after its previous one is acknowledged. That is what keeps order when
// a Publish fails half way: sarama moves on to later records of a partition
// after an earlier one exhausted its retries, so pipelining a stream's
// events could leave v2 in the log without v1, and a consumer that skips
// versions it has already applied would then never apply v1. With waves a
// failed call leaves every stream with a prefix of its events in the log,
// and the republished run only repeats them.
//
// With PublisherConfig.OneByOne it is watermill-kafka's Publisher as is.
func NewPublisher(cfg PublisherConfig) (message.Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc := cfg.saramaConfig()
	log := cfg.common().logger().With("component", "kafkabus.publisher")
	if cfg.OneByOne {
		p, err := kafka.NewPublisher(kafka.PublisherConfig{
			Brokers: cfg.Brokers, Marshaler: Marshaler{}, OverwriteSaramaConfig: sc,
		}, newWatermillLogger(log))
		if err != nil {
			return nil, fmt.Errorf("kafkabus: new publisher: %w", err)
		}
		return p, nil
	}
	producer, err := sarama.NewSyncProducer(cfg.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("kafkabus: new producer: %w", err)
	}
	return &Publisher{producer: producer, marshaler: Marshaler{}, log: log}, nil
}

// Publisher is the batching publisher NewPublisher returns.
type Publisher struct {
	producer  sarama.SyncProducer
	marshaler kafka.Marshaler
	log       *slog.Logger

	mu     sync.RWMutex // Close waits for Publish calls in flight
	closed bool
}

var _ message.Publisher = (*Publisher)(nil)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("kafkabus: publisher closed")

// Publish sends msgs to topic and returns when all are acknowledged.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	waves, err := p.waves(topic, msgs)
	if err != nil {
		return err
	}
	sent := 0
	for _, wave := range waves {
		if err := p.producer.SendMessages(wave); err != nil {
			var perrs sarama.ProducerErrors
			if errors.As(err, &perrs) && len(perrs) > 0 {
				err = fmt.Errorf("%d of %d records failed, first: %w", len(perrs), len(wave), perrs[0].Err)
			}
			return fmt.Errorf("kafkabus: publish to %s (%d of %d messages acknowledged before this wave): %w",
				topic, sent, len(msgs), err)
		}
		sent += len(wave)
	}
	return nil
}

// waves marshals msgs and groups them: wave i holds, in call order, the
// i-th message of each key.
func (p *Publisher) waves(topic string, msgs []*message.Message) ([][]*sarama.ProducerMessage, error) {
	var waves [][]*sarama.ProducerMessage
	seen := make(map[string]int, len(msgs))
	for _, msg := range msgs {
		rec, err := p.marshaler.Marshal(topic, msg)
		if err != nil {
			return nil, fmt.Errorf("kafkabus: publish to %s: %w", topic, err)
		}
		key := ""
		if rec.Key != nil {
			b, err := rec.Key.Encode()
			if err != nil {
				return nil, fmt.Errorf("kafkabus: publish to %s: key of %s: %w", topic, msg.UUID, err)
			}
			key = string(b)
		}
		i := seen[key]
		seen[key] = i + 1
		if i == len(waves) {
			waves = append(waves, make([]*sarama.ProducerMessage, 0, len(seen)))
		}
		waves[i] = append(waves[i], rec)
	}
	return waves, nil
}

// Close flushes and closes the producer; Publish calls in flight finish
// first.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if err := p.producer.Close(); err != nil {
		return fmt.Errorf("kafkabus: close producer: %w", err)
	}
	return nil
}
