package platform_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/examhall/exam/projections"
)

// orderRecorder is a projection that records, per stream, the versions in
// the order they were applied, and how many applies ran at once.
type orderRecorder struct {
	mu       sync.Mutex
	versions map[string][]int64
	total    int
	inFlight atomic.Int32
	maxPar   atomic.Int32
}

func (*orderRecorder) Name() string         { return "order-recorder" }
func (*orderRecorder) Categories() []string { return []string{"grades"} }
func (o *orderRecorder) Apply(_ context.Context, batch []projections.Delivered) error {
	for _, d := range batch {
		o.apply(d.Record)
	}
	return nil
}

func (o *orderRecorder) apply(rec eventstore.Record) {
	n := o.inFlight.Add(1)
	defer o.inFlight.Add(-1)
	for {
		if m := o.maxPar.Load(); n <= m || o.maxPar.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(200 * time.Microsecond) // a transaction's worth of time
	o.mu.Lock()
	o.versions[rec.StreamID] = append(o.versions[rec.StreamID], rec.Version)
	o.total++
	o.mu.Unlock()
}

// Runner.Consume applies several partitions at once (the Kafka
// subscriber releases a partition's next message only after the previous
// one is acked) and still applies every stream's versions in order, each
// once.
func TestConsumeAppliesPartitionsInParallelAndStreamsInOrder(t *testing.T) {
	brokers := failoverCluster(t)
	const streams, versions = 24, 40
	var recs []eventstore.Record
	for v := int64(1); v <= versions; v++ {
		for s := range streams {
			recs = append(recs, eventstore.Record{EventID: fmt.Sprintf("e-%d-%d", s, v), StreamID: fmt.Sprintf("grades-exam%03d", s),
				Version: v, Position: uint64(len(recs) + 1), Type: "test.unknown.v1", OccurredAt: time.Now().UTC(), Data: []byte(`{}`)})
		}
	}
	publishRecords(t, brokers, recs)

	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: brokers, ConsumerGroup: "exam.projector.order-test", Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	rec := &orderRecorder{versions: map[string][]int64{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := projections.NewRunner(discardLog, rec).Consume(ctx, sub, kafkabus.Origin); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec.mu.Lock()
		total := rec.total
		rec.mu.Unlock()
		if total >= len(recs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("applied %d of %d records", total, len(recs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for s := range streams {
		id := fmt.Sprintf("grades-exam%03d", s)
		got := rec.versions[id]
		if len(got) != versions {
			t.Fatalf("%s: %d applies, want %d: %v", id, len(got), versions, got)
		}
		for i, v := range got {
			if v != int64(i+1) {
				t.Fatalf("%s applied out of order: %v", id, got)
			}
		}
	}
	if rec.maxPar.Load() < 2 {
		t.Fatalf("at most %d apply ran at once: partitions were applied one after another", rec.maxPar.Load())
	}
}
