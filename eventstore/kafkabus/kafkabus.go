// Package kafkabus is the Kafka adapter of the bus: a watermill publisher
// for the relay and consumer-group subscribers for projectors, over sarama
// (through watermill-kafka v3).
//
// On the wire a message follows the CloudEvents Kafka binding in binary
// mode: the record key is the stream id (so one stream's events share a
// partition and keep their order), the value is the event's JSON data, and
// the envelope travels as ce_* headers plus content-type. Any Kafka client
// can read it without this code.
//
// Guarantees:
//   - The publisher is an idempotent producer with acks=all: a retry inside
//     the producer never duplicates or reorders a record.
//   - Publish batches, but never sends a stream's next event before the
//     previous one is acknowledged (see Publisher), so even a failed Publish
//     leaves each stream's events in the log as a prefix of the stream: the
//     relay then republishes the whole run (at least once) and consumers that
//     skip versions they already applied stay correct.
//   - Subscribers mark an offset only after the message is acked and commit
//     marked offsets (at least once); consumer groups are named permanently.
package kafkabus

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// DefaultVersion is the Kafka protocol version sarama speaks unless told
// otherwise. It must be at least MinVersion (idempotent producer with
// acks=all, header support, zstd, CreateTopics with the broker's default
// replication factor).
const DefaultVersion = "3.6.0"

// MinVersion is the oldest Kafka version the adapter accepts.
const MinVersion = "2.8.0"

// common holds the settings shared by publishers and subscribers.
type common struct {
	Brokers     []string
	Logger      *slog.Logger
	ClientID    string
	Version     string
	DialTimeout time.Duration
}

func (c common) validate(who string) []error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("kafkabus: %s: Brokers is required", who))
	}
	for i, b := range c.Brokers {
		if strings.TrimSpace(b) == "" {
			errs = append(errs, fmt.Errorf("kafkabus: %s: Brokers[%d] is empty", who, i))
		}
	}
	if c.Version != "" {
		v, err := sarama.ParseKafkaVersion(c.Version)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("kafkabus: %s: Version %q: %w", who, c.Version, err))
		case !v.IsAtLeast(sarama.V2_8_0_0):
			errs = append(errs, fmt.Errorf("kafkabus: %s: Version %s is older than %s", who, c.Version, MinVersion))
		}
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("kafkabus: %s: DialTimeout must not be negative", who))
	}
	return errs
}

func (c common) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

// sarama returns the sarama settings both sides share. Call validate first.
func (c common) sarama() *sarama.Config {
	sc := sarama.NewConfig()
	sc.ClientID = "examhall"
	if c.ClientID != "" {
		sc.ClientID = c.ClientID
	}
	version := DefaultVersion
	if c.Version != "" {
		version = c.Version
	}
	sc.Version, _ = sarama.ParseKafkaVersion(version) // checked by validate
	sc.Net.DialTimeout = 10 * time.Second
	if c.DialTimeout > 0 {
		sc.Net.DialTimeout = c.DialTimeout
	}
	// Metadata refreshes (after a leader change, or while brokers are down)
	// retry quickly at first, then back off.
	sc.Metadata.Retry.Max = 3
	sc.Metadata.Retry.BackoffFunc = func(retries, _ int) time.Duration {
		return expBackoff(100*time.Millisecond, time.Second, retries)
	}
	return sc
}

// expBackoff is base·2^retries capped at max.
func expBackoff(base, max time.Duration, retries int) time.Duration {
	d := base
	for i := 0; i < retries && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// PublisherConfig configures NewPublisher.
type PublisherConfig struct {
	// Brokers are the bootstrap addresses (host:port). Required.
	Brokers []string
	// Logger receives the adapter's logs (slog.Default() when nil).
	Logger *slog.Logger
	// ClientID names the client to the brokers (default "examhall").
	ClientID string
	// Version is the Kafka protocol version, e.g. "3.6.0" (DefaultVersion
	// when empty; at least MinVersion).
	Version string
	// DialTimeout bounds connecting to a broker (default 10s).
	DialTimeout time.Duration
	// Compression of record batches: "none", "gzip", "snappy", "lz4" or
	// "zstd" (default "lz4": cheap on CPU, and JSON events with repeated
	// headers compress well).
	Compression string
	// MaxRetries is how many times the producer retries a record on a
	// retriable error (leader change, broker restart) before Publish fails
	// (default 5; the relay then retries the whole run with its own backoff).
	MaxRetries int
	// RetryBackoff is the first wait between retries; it doubles up to 2s
	// (default 100ms).
	RetryBackoff time.Duration
	// OneByOne publishes through watermill-kafka's own Publisher, which waits
	// for each record's acknowledgement before sending the next one: one
	// round trip per event. Off by default; kept as a fallback and for
	// comparison (see BenchmarkRelayToKafka).
	OneByOne bool
}

var compressions = map[string]sarama.CompressionCodec{
	"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
	"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
}

// Validate reports every problem at once.
func (c PublisherConfig) Validate() error {
	errs := c.common().validate("publisher")
	if _, ok := compressions[c.Compression]; c.Compression != "" && !ok {
		errs = append(errs, fmt.Errorf("kafkabus: publisher: unknown Compression %q (none, gzip, snappy, lz4, zstd)", c.Compression))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, errors.New("kafkabus: publisher: MaxRetries must not be negative"))
	}
	if c.RetryBackoff < 0 {
		errs = append(errs, errors.New("kafkabus: publisher: RetryBackoff must not be negative"))
	}
	return errors.Join(errs...)
}

// saramaConfig is the producer configuration. Call Validate first.
func (c PublisherConfig) saramaConfig() *sarama.Config {
	sc := c.common().sarama()
	p := &sc.Producer
	// Idempotence: the broker drops a retried batch it already has and
	// rejects one out of sequence, so producer retries neither duplicate nor
	// reorder. It requires acks from all in-sync replicas and one request in
	// flight per broker connection.
	p.Idempotent = true
	p.RequiredAcks = sarama.WaitForAll
	sc.Net.MaxOpenRequests = 1
	p.Return.Successes = true
	p.Return.Errors = true
	p.Retry.Max = 5
	if c.MaxRetries > 0 {
		p.Retry.Max = c.MaxRetries
	}
	base := 100 * time.Millisecond
	if c.RetryBackoff > 0 {
		base = c.RetryBackoff
	}
	p.Retry.BackoffFunc = func(retries, _ int) time.Duration { return expBackoff(base, 2*time.Second, retries) }
	p.Compression = sarama.CompressionLZ4
	if c.Compression != "" {
		p.Compression = compressions[c.Compression]
	}
	// The same key → partition mapping as the Java client and franz-go, so
	// a stream lands on the same partition whichever client produces it.
	p.Partitioner = sarama.NewMurmur2Partitioner
	return sc
}

func (c PublisherConfig) common() common {
	return common{Brokers: c.Brokers, Logger: c.Logger, ClientID: c.ClientID, Version: c.Version, DialTimeout: c.DialTimeout}
}

// SubscriberConfig configures NewSubscriber.
type SubscriberConfig struct {
	// Brokers are the bootstrap addresses (host:port). Required.
	Brokers []string
	// Logger receives the adapter's logs (slog.Default() when nil).
	Logger *slog.Logger
	// ClientID names the client to the brokers (default "examhall").
	ClientID string
	// Version is the Kafka protocol version, e.g. "3.6.0" (DefaultVersion
	// when empty; at least MinVersion).
	Version string
	// DialTimeout bounds connecting to a broker (default 10s).
	DialTimeout time.Duration
	// ConsumerGroup is the permanent name of the consumer group (its
	// committed offsets are the consumer's checkpoint: a new name starts
	// over). Required.
	ConsumerGroup string
	// InitialOffsetNewest starts a group that has no committed offset at the
	// end of each partition. By default it starts at the oldest record, so a
	// new projector sees every event still retained.
	InitialOffsetNewest bool
	// CommitInterval is how often offsets of acked messages are committed
	// (default 1s). A crash redelivers at most this much: at least once.
	CommitInterval time.Duration
	// SessionTimeout is how long the group coordinator waits for a silent
	// member before it hands its partitions to others (default 10s; brokers
	// bound it, 6s minimum by default).
	SessionTimeout time.Duration
	// HeartbeatInterval is how often members heartbeat and so how soon they
	// notice a rebalance (default 1s; below SessionTimeout/3).
	HeartbeatInterval time.Duration
	// NackResendSleep is the pause before a nacked message is delivered
	// again (default 100ms).
	NackResendSleep time.Duration
	// ReconnectRetrySleep is the pause before a failed consumer reconnects
	// (default 1s).
	ReconnectRetrySleep time.Duration
}

// Validate reports every problem at once.
func (c SubscriberConfig) Validate() error {
	errs := c.common().validate("subscriber")
	if strings.TrimSpace(c.ConsumerGroup) == "" {
		errs = append(errs, errors.New("kafkabus: subscriber: ConsumerGroup is required (a permanent name)"))
	}
	for name, d := range map[string]time.Duration{
		"CommitInterval": c.CommitInterval, "SessionTimeout": c.SessionTimeout, "HeartbeatInterval": c.HeartbeatInterval,
		"NackResendSleep": c.NackResendSleep, "ReconnectRetrySleep": c.ReconnectRetrySleep,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("kafkabus: subscriber: %s must not be negative", name))
		}
	}
	session, heartbeat := c.sessionTimeouts()
	if heartbeat*3 > session {
		errs = append(errs, fmt.Errorf("kafkabus: subscriber: HeartbeatInterval %s must be at most a third of SessionTimeout %s", heartbeat, session))
	}
	return errors.Join(errs...)
}

func (c SubscriberConfig) sessionTimeouts() (session, heartbeat time.Duration) {
	session, heartbeat = 10*time.Second, time.Second
	if c.SessionTimeout > 0 {
		session = c.SessionTimeout
	}
	if c.HeartbeatInterval > 0 {
		heartbeat = c.HeartbeatInterval
	}
	return session, heartbeat
}

// saramaConfig is the consumer configuration. Call Validate first.
func (c SubscriberConfig) saramaConfig() *sarama.Config {
	sc := c.common().sarama()
	cs := &sc.Consumer
	cs.Return.Errors = true
	cs.Offsets.Initial = sarama.OffsetOldest
	if c.InitialOffsetNewest {
		cs.Offsets.Initial = sarama.OffsetNewest
	}
	// Only acked messages are marked (watermill-kafka marks after Ack);
	// marked offsets are committed every interval and when a session ends
	// (rebalance, Close).
	cs.Offsets.AutoCommit.Enable = true
	cs.Offsets.AutoCommit.Interval = time.Second
	if c.CommitInterval > 0 {
		cs.Offsets.AutoCommit.Interval = c.CommitInterval
	}
	cs.Group.Session.Timeout, cs.Group.Heartbeat.Interval = c.sessionTimeouts()
	// Sticky: a rebalance moves only the partitions that must move, so fewer
	// messages are redelivered when members come and go.
	cs.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky()}
	// A join that loses a race with another member's (every Subscribe is
	// a member) is retried soon, not after sarama's default 2s.
	cs.Group.Rebalance.Retry.Backoff = 250 * time.Millisecond
	cs.Group.Rebalance.Retry.Max = 8
	// Never read records of aborted transactions (no producer of ours uses
	// them, but other producers to these topics might).
	cs.IsolationLevel = sarama.ReadCommitted
	return sc
}

func (c SubscriberConfig) common() common {
	return common{Brokers: c.Brokers, Logger: c.Logger, ClientID: c.ClientID, Version: c.Version, DialTimeout: c.DialTimeout}
}
