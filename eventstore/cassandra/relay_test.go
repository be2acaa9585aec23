package cassandra

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
	"github.com/examhall/exam/eventstore/relay"
)

// TestRelayOnCassandra: the relay tails the Cassandra feed while writers
// append, and publishes every event once, in each stream's order, with the
// stored position; its checkpoint is kept in the store.
func TestRelayOnCassandra(t *testing.T) {
	t.Parallel()
	s := openStore(t, testConfig(t, sharedKeyspace(t)))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := "relay-test-" + eventstoretest.NewStreamID("r")
	if err := s.SaveCheckpoint(ctx, name, head); err != nil {
		t.Fatal(err)
	}
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	defer bus.Close()
	msgs, err := bus.Subscribe(ctx, relay.DefaultTopics["exam"])
	if err != nil {
		t.Fatal(err)
	}
	r, err := relay.New(relay.Config{Name: name, Store: s, Checkpoints: s, Publisher: bus})
	if err != nil {
		t.Fatal(err)
	}
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); _ = r.Run(ctx) }()
	defer func() { cancel(); <-relayDone }()

	const writers, appends = 4, 25
	streams := map[string]bool{}
	var names []string
	for range writers {
		st := eventstoretest.NewStreamID("exam")
		streams[st] = true
		names = append(names, st)
	}
	positions := map[string]uint64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range appends {
				ev := eventstoretest.NewEvent("test.relayed.v1")
				res, err := s.Append(ctx, names[w], eventstore.AnyVersion, []eventstore.Record{ev})
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				positions[ev.EventID] = res.LastPosition
				mu.Unlock()
			}
		}()
	}
	want := writers * appends
	seen := map[string]bool{}
	next := map[string]int64{}
	for len(seen) < want {
		select {
		case m := <-msgs:
			rec, err := relay.DecodeMessage(m)
			m.Ack()
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !streams[rec.StreamID] {
				continue
			}
			if seen[rec.EventID] {
				t.Fatalf("event %s published twice", rec.EventID)
			}
			seen[rec.EventID] = true
			next[rec.StreamID]++
			if rec.Version != next[rec.StreamID] {
				t.Fatalf("%s: version %d published, want %d", rec.StreamID, rec.Version, next[rec.StreamID])
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d events published", len(seen), want)
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(positions) != want {
		t.Fatalf("%d appends acknowledged, want %d", len(positions), want)
	}
	last := uint64(0)
	for _, p := range positions {
		last = max(last, p)
	}
	if err := r.WaitPublished(ctx, last); err != nil {
		t.Fatalf("WaitPublished(%d): %v", last, err)
	}
	if cp, err := s.LoadCheckpoint(ctx, name); err != nil || cp < last {
		t.Fatalf("checkpoint %d, %v; want at least %d", cp, err, last)
	}
}
