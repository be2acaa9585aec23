package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/examhall/exam/interchange/caliper"
	"github.com/examhall/exam/projections"
)

// Caliper sinks (EXAM_CALIPER).
const (
	CaliperKafka = "kafka"
	CaliperHTTP  = "http"
)

// caliperProjection is the glue between the projection runtime and the
// pure mapping of interchange/caliper: a projections.Projection ("caliper",
// consumer group exam.projector.caliper) over the attempt and grade
// streams that maps each record and sends the envelope to its sink, and
// only then reports success, so the runtime redelivers what was not sent
// (at least once; the Caliper event id is our event id, so consumers can
// drop redeliveries). It keeps no read model, hence no checkpoint rows:
// the consumer group's offsets are its checkpoint.
type caliperProjection struct {
	cfg  caliper.Config
	send func(ctx context.Context, msg caliper.Message, eventID string, body []byte) error
	now  func() time.Time
}

var _ projections.Projection = (*caliperProjection)(nil)

func (*caliperProjection) Name() string { return "caliper" }

func (*caliperProjection) Categories() []string {
	return []string{domain.CategoryAttempt, domain.CategoryGrades}
}

// Apply maps and sends each record of the batch in order; an error stops
// the batch and the runtime delivers it again (at least once).
func (p *caliperProjection) Apply(ctx context.Context, batch []projections.Delivered) error {
	for _, d := range batch {
		if d.Data == nil {
			continue // an event this build does not know
		}
		rec := d.Record
		msg, ok, err := caliper.Map(p.cfg, caliper.Source{EventID: rec.EventID, Type: rec.Type, OccurredAt: rec.OccurredAt,
			ActorID: rec.ActorID, ActorRole: rec.ActorRole, Payload: d.Data}, p.now())
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		body, err := json.Marshal(msg.Envelope)
		if err != nil {
			return fmt.Errorf("caliper: encode: %w", err)
		}
		if err := p.send(ctx, msg, rec.EventID, body); err != nil {
			return err
		}
	}
	return nil
}

// newCaliperProjection builds the projection for cfg.Caliper, or nil when
// Caliper is off.
func newCaliperProjection(cfg Config, log *slog.Logger) (*caliperProjection, func() error, error) {
	mapping := caliper.Config{BaseURL: cfg.CaliperBaseURL, AttemptID: commands.AttemptID}
	if err := mapping.Validate(); err != nil {
		return nil, nil, err
	}
	p := &caliperProjection{cfg: mapping, now: cfg.Now}
	switch cfg.Caliper {
	case "":
		return nil, func() error { return nil }, nil
	case CaliperHTTP:
		client := &http.Client{Timeout: 10 * time.Second}
		p.send = func(ctx context.Context, _ caliper.Message, _ string, body []byte) error {
			return postEnvelope(ctx, client, cfg.CaliperEndpoint, cfg.CaliperToken, body)
		}
		return p, func() error { return nil }, nil
	case CaliperKafka:
		k := &caliperKafka{cfg: cfg, log: log.With("component", "caliper.kafka")}
		p.send = k.send
		return p, k.Close, nil
	}
	return nil, nil, fmt.Errorf("EXAM_CALIPER %q: must be kafka or http", cfg.Caliper)
}

// postEnvelope sends an envelope to a Caliper endpoint (spec §6: POST,
// application/json, a bearer token when the endpoint wants one; any 2xx
// is accepted).
func postEnvelope(ctx context.Context, client *http.Client, endpoint, token string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("caliper: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("caliper: post: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("caliper: endpoint answered %s", res.Status)
	}
	return nil
}

// caliperKafka publishes envelopes on the exam.caliper topic, keyed by the
// student. The publisher is made on first use (Kafka may be down at
// start-up: the runtime retries the record, and with it the connection).
type caliperKafka struct {
	cfg Config
	log *slog.Logger
	mu  sync.Mutex
	pub message.Publisher
}

func (k *caliperKafka) publisher(ctx context.Context) (message.Publisher, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pub != nil {
		return k.pub, nil
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := kafkabus.EnsureTopics(tctx, k.cfg.KafkaBrokers, []string{caliper.Topic}, k.cfg.KafkaPartitions); err != nil {
		return nil, err
	}
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: k.cfg.KafkaBrokers, Logger: k.log})
	if err != nil {
		return nil, err
	}
	k.pub = pub
	return pub, nil
}

func (k *caliperKafka) send(ctx context.Context, msg caliper.Message, eventID string, body []byte) error {
	pub, err := k.publisher(ctx)
	if err != nil {
		return err
	}
	m := message.NewMessage(eventID, body)
	m.Metadata.Set(relay.HeaderPartitionKey, msg.Key)
	m.Metadata.Set(relay.HeaderID, eventID)
	m.Metadata.Set("content-type", "application/json")
	return pub.Publish(caliper.Topic, m)
}

func (k *caliperKafka) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pub == nil {
		return nil
	}
	return k.pub.Close()
}
