package kafkabus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cluster starts an in-process Kafka (kfake: the real wire protocol) on
// loopback, closed when the test ends.
func cluster(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// testLogger logs warnings and errors to the test while it runs, and
// nothing after it ended (background consumers may still log then).
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("%s", p)
	}
	return len(p), nil
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func newPublisher(t testing.TB, cfg kafkabus.PublisherConfig) message.Publisher {
	t.Helper()
	p, err := kafkabus.NewPublisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newSubscriber(t testing.TB, cfg kafkabus.SubscriberConfig) message.Subscriber {
	t.Helper()
	// Fast heartbeats: a member notices a rebalance within 100ms.
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 100 * time.Millisecond
	}
	if cfg.ReconnectRetrySleep == 0 {
		cfg.ReconnectRetrySleep = 100 * time.Millisecond
	}
	if cfg.CommitInterval == 0 {
		cfg.CommitInterval = 100 * time.Millisecond
	}
	s, err := kafkabus.NewSubscriber(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var epoch = time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)

// records makes n events for each of the streams, interleaved the way
// concurrent writers interleave them: round r holds version r+1 of every
// stream. Positions follow that order.
func records(category string, streams, perStream int) []eventstore.Record {
	out := make([]eventstore.Record, 0, streams*perStream)
	for v := 1; v <= perStream; v++ {
		for s := 0; s < streams; s++ {
			pos := uint64(len(out) + 1)
			out = append(out, eventstore.Record{
				EventID:       fmt.Sprintf("00000000-0000-4000-8000-%012d", pos),
				StreamID:      fmt.Sprintf("%s-%04d", category, s),
				Version:       int64(v),
				Position:      pos,
				Type:          category + ".something_happened.v1",
				OccurredAt:    epoch.Add(time.Duration(pos) * time.Millisecond),
				ActorID:       fmt.Sprintf("user-%d", s),
				ActorRole:     "student",
				CorrelationID: fmt.Sprintf("req-%d", pos),
				CausationID:   fmt.Sprintf("req-%d", pos),
				Tags:          []string{fmt.Sprintf("exam:%d", s), "student:x"},
				Data:          fmt.Appendf(nil, `{"stream":%d,"version":%d,"text":"naïve ✓"}`, s, v),
			})
		}
	}
	return out
}

// consumeAll reads n records from the start of topic with a plain franz-go
// client (no code of ours), failing the test after timeout.
func consumeAll(t testing.TB, brokers []string, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records from %s before %s", len(out), n, topic, timeout)
		}
		for _, e := range fs.Errors() {
			t.Logf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
