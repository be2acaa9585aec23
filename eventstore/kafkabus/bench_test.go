package kafkabus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/embedded"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/examhall/exam/internal/kafkatest"
)

// BenchmarkRelayToKafka measures events/s from the embedded store through
// the relay and the publisher into Kafka (6 partitions, idempotent producer,
// acks=all): the in-process kfake on loopback and the real Apache Kafka
// broker (internal/kafkatest), side by side in one run. The events are answers
// saved on `streams` attempt streams by concurrent writers, so the log
// interleaves streams the way a sitting exam does; with few streams each
// relay batch holds many events per stream and the batching publisher needs
// as many waves.
func BenchmarkRelayToKafka(b *testing.B) {
	for _, bc := range []struct {
		name    string
		streams int
		cfg     kafkabus.PublisherConfig
	}{
		{"batched/lz4/streams=1000", 1000, kafkabus.PublisherConfig{}},
		{"batched/zstd/streams=1000", 1000, kafkabus.PublisherConfig{Compression: "zstd"}},
		{"batched/none/streams=1000", 1000, kafkabus.PublisherConfig{Compression: "none"}},
		{"batched/lz4/streams=50", 50, kafkabus.PublisherConfig{}},
		{"batched/lz4/streams=5", 5, kafkabus.PublisherConfig{}},
		{"one-by-one/lz4/streams=1000", 1000, kafkabus.PublisherConfig{OneByOne: true}},
	} {
		for _, broker := range []string{"kfake", "kafka"} {
			b.Run(broker+"/"+bc.name, func(b *testing.B) { benchRelay(b, broker, bc.streams, bc.cfg) })
		}
	}
}

func benchRelay(b *testing.B, broker string, streams int, pcfg kafkabus.PublisherConfig) {
	var brokers []string
	if broker == "kfake" {
		_, brokers = cluster(b)
	} else {
		brokers = kafkatest.Brokers(b)
	}
	topic := kafkatest.Name(b, "exam.attempts")
	kafkatest.CreateTopics(b, brokers, 6, topic)
	store, err := embedded.Open(b.TempDir(), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	appendAnswers(b, store, streams, b.N)
	head, err := store.Head(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	cfg := pcfg
	cfg.Brokers, cfg.Logger = brokers, testLogger(b)
	pub := newPublisher(b, cfg)

	b.ResetTimer()
	start := time.Now()
	rl, stop := runRelay(b, relay.Config{Name: "bench", Store: store, Checkpoints: store, Publisher: pub, Logger: testLogger(b),
		Topics: map[string]string{"attempt": topic}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := rl.WaitPublished(ctx, head); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// appendAnswers appends n answer events over the streams, one event per
// append, from concurrent writers that each own a share of the streams.
func appendAnswers(b *testing.B, store eventstore.Store, streams, n int) {
	b.Helper()
	writers := min(16, streams)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			owned := (streams - w + writers - 1) / writers // streams w, w+writers, …
			for i, k := w, 0; i < n; i, k = i+writers, k+1 {
				s := w + (k%owned)*writers
				stream := domain.AttemptStream(fmt.Sprintf("a%05d", s))
				rec := eventstore.Record{
					EventID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), StreamID: stream, Type: domain.TypeAnswerSaved,
					OccurredAt: epoch, ActorID: fmt.Sprintf("s%05d", s), ActorRole: "student", Tags: []string{"exam:e1"},
					Data: fmt.Appendf(nil, `{"attempt_id":"a%05d","exam_id":"e1","student_id":"s%05d","question_id":"q%d","choices":["b"],"saved_at":"2026-03-01T09:00:00Z"}`, s, s, k%40),
				}
				if _, err := store.Append(ctx, stream, eventstore.AnyVersion, []eventstore.Record{rec}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
