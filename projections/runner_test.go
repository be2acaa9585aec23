package projections_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/examhall/exam/projections"
)

// flakyProjection fails its first failures applies (its database is down),
// then records what it applies.
type flakyProjection struct {
	mu       sync.Mutex
	failures int
	calls    int
	applied  []int64
}

func (*flakyProjection) Name() string         { return "flaky" }
func (*flakyProjection) Categories() []string { return []string{"grades"} }
func (f *flakyProjection) Apply(_ context.Context, batch []projections.Delivered) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.failures {
		return errors.New("read-model database unreachable")
	}
	for _, d := range batch {
		f.applied = append(f.applied, d.Record.Version)
	}
	return nil
}

// A projection whose store is down gets the same record again until it
// applies, and nothing after it first: the read side catches up, in order,
// when its store returns; an undecodable message is skipped, not retried.
func TestConsumeRetriesAFailedApplyBeforeMovingOn(t *testing.T) {
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	t.Cleanup(func() { _ = bus.Close() })
	p := &flakyProjection{failures: 3}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := projections.NewRunner(log, p).Consume(ctx, bus, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		bad := relay.EncodeMessage(eventstore.Record{EventID: "bad", StreamID: "grades-x", Version: 2, Type: "t.v1", Data: []byte(`{}`)})
		bad.Metadata = nil // no envelope headers: undecodable
		msgs := []*eventstore.Record{
			{EventID: "e1", StreamID: "grades-x", Version: 1, Position: 1, Type: "t.v1", OccurredAt: time.Now().UTC(), Data: []byte(`{}`)},
			{EventID: "e3", StreamID: "grades-x", Version: 3, Position: 3, Type: "t.v1", OccurredAt: time.Now().UTC(), Data: []byte(`{}`)},
		}
		if err := bus.Publish("exam.grades", relay.EncodeMessage(*msgs[0])); err != nil {
			done <- err
			return
		}
		if err := bus.Publish("exam.grades", bad); err != nil {
			done <- err
			return
		}
		done <- bus.Publish("exam.grades", relay.EncodeMessage(*msgs[1]))
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the publishes were never acknowledged")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls != 5 || len(p.applied) != 2 || p.applied[0] != 1 || p.applied[1] != 3 {
		t.Fatalf("calls %d, applied versions %v; want 3 failures, then 1 and 3", p.calls, p.applied)
	}
}
