package relay_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/relay"
)

// topicCollector records, per topic, every message delivered, acking each.
type topicCollector struct {
	mu      sync.Mutex
	byTopic map[string][]eventstore.Record
	seen    map[string]int // event id → deliveries
}

func collect(t *testing.T, ctx context.Context, sub message.Subscriber, topics ...string) *topicCollector {
	t.Helper()
	c := &topicCollector{byTopic: map[string][]eventstore.Record{}, seen: map[string]int{}}
	for _, topic := range topics {
		msgs, err := sub.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for m := range msgs {
				r, err := relay.DecodeMessage(m)
				if err != nil {
					t.Errorf("decode on %s: %v", topic, err)
				}
				c.mu.Lock()
				c.byTopic[topic] = append(c.byTopic[topic], r)
				c.seen[r.EventID]++
				c.mu.Unlock()
				m.Ack()
			}
		}()
	}
	return c
}

func (c *topicCollector) delivered(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[id]
}

func (c *topicCollector) all() map[string][]eventstore.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]eventstore.Record{}
	for k, v := range c.byTopic {
		out[k] = slices.Clone(v)
	}
	return out
}

func allTopics() []string {
	var ts []string
	for _, t := range relay.DefaultTopics {
		ts = append(ts, t)
	}
	return ts
}

func fullRecord(stream string) eventstore.Record {
	return eventstore.Record{
		EventID: uuid.NewString(), StreamID: stream, Type: "test.happened.v1",
		OccurredAt: time.Now().UTC(), ActorID: uuid.NewString(), ActorRole: "student",
		CorrelationID: uuid.NewString(), CausationID: uuid.NewString(),
		Tags: []string{"exam:" + uuid.NewString(), "student:" + uuid.NewString()},
		Data: []byte(`{"answer":["a","c"]}`),
	}
}

// TestRelayRoutesCategoriesAndKeepsPrivateOnesOff: each public category goes
// to its topic with its full envelope, in stream order; private categories
// are never published, yet their positions are checkpointed.
func TestRelayRoutesCategoriesAndKeepsPrivateOnesOff(t *testing.T) {
	store := openStore(t)
	bus := newBus()
	defer bus.Close()
	ctx := t.Context()
	got := collect(t, ctx, bus, allTopics()...)

	want := map[string][]eventstore.Record{} // topic → records in append order
	var last uint64
	categories := []string{"exam", "attempt", "grades", "user", "level", "credentials", "email", "session", "idempotency"}
	for round := range 3 {
		for _, cat := range categories {
			stream := fmt.Sprintf("%s-%d", cat, round%2)
			rec := fullRecord(stream)
			res, err := store.Append(ctx, stream, eventstore.AnyVersion, []eventstore.Record{rec})
			if err != nil {
				t.Fatal(err)
			}
			rec.Version, rec.Position = res.FromVersion, res.LastPosition
			last = res.LastPosition
			if topic, ok := relay.DefaultTopics[cat]; ok {
				want[topic] = append(want[topic], rec)
			}
		}
	}
	// The last events are private: the checkpoint still reaches them.
	r, stop := runRelay(t, relay.Config{Name: "routes", Store: store, Checkpoints: store, Publisher: bus})
	defer stop()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.WaitPublished(wctx, last); err != nil {
		t.Fatalf("WaitPublished(%d): %v (published %d)", last, err, r.Published())
	}
	if cp, err := store.LoadCheckpoint(ctx, "routes"); err != nil || cp != last {
		t.Fatalf("checkpoint = %d, %v; want %d", cp, err, last)
	}
	// With BlockPublishUntilSubscriberAck, published means delivered.
	if g := got.all(); !reflect.DeepEqual(g, want) {
		t.Fatalf("delivered:\n%+v\nwant:\n%+v", g, want)
	}
}

// flakyPublisher fails some Publish calls before passing them on.
type flakyPublisher struct {
	message.Publisher
	calls, failures atomic.Int64
	fail            func(call int64) bool
}

func (p *flakyPublisher) Publish(topic string, msgs ...*message.Message) error {
	n := p.calls.Add(1)
	if p.fail(n) {
		p.failures.Add(1)
		return errors.New("broker unavailable")
	}
	return p.Publisher.Publish(topic, msgs...)
}

// auditedCheckpoints fails the test if a checkpoint passes an event that was
// not delivered yet.
type auditedCheckpoints struct {
	eventstore.CheckpointStore
	t        *testing.T
	store    eventstore.Store
	got      *topicCollector
	violated atomic.Bool
}

func (a *auditedCheckpoints) SaveCheckpoint(ctx context.Context, name string, pos uint64) error {
	recs, err := a.store.ReadAll(ctx, 0, 100_000)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Position > pos {
			break
		}
		if _, public := relay.DefaultTopics[eventstore.Category(r.StreamID)]; public && a.got.delivered(r.EventID) == 0 {
			a.violated.Store(true)
			a.t.Errorf("checkpoint %d passes event at %d that was never delivered", pos, r.Position)
		}
	}
	return a.CheckpointStore.SaveCheckpoint(ctx, name, pos)
}

// TestRelayRetriesFailedPublishesAndNeverSkips: with a publisher that fails
// often, every event is still delivered, each stream in order, and the
// checkpoint never passes an undelivered event.
func TestRelayRetriesFailedPublishesAndNeverSkips(t *testing.T) {
	store := openStore(t)
	bus := newBus()
	defer bus.Close()
	ctx := t.Context()
	got := collect(t, ctx, bus, allTopics()...)
	pub := &flakyPublisher{Publisher: bus, fail: func(call int64) bool { return call <= 3 || rand.IntN(3) == 0 }}
	cp := &auditedCheckpoints{CheckpointStore: store, t: t, store: store, got: got}
	r, stop := runRelay(t, relay.Config{Name: "flaky", Store: store, Checkpoints: cp, Publisher: pub, BatchSize: 7})
	defer stop()

	streams := []string{"exam-f1", "attempt-f1", "attempt-f2", "session-f1", "grades-f1"}
	var ids []string
	var last uint64
	for i := range 60 {
		stream := streams[i%len(streams)]
		rec := fullRecord(stream)
		res, err := store.Append(ctx, stream, eventstore.AnyVersion, []eventstore.Record{rec})
		if err != nil {
			t.Fatal(err)
		}
		last = res.LastPosition
		if eventstore.Category(stream) != "session" {
			ids = append(ids, rec.EventID)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.WaitPublished(wctx, last); err != nil {
		t.Fatalf("WaitPublished(%d): %v (published %d)", last, err, r.Published())
	}
	if pub.failures.Load() < 3 {
		t.Fatalf("only %d publish failures: the test did not exercise retries", pub.failures.Load())
	}
	for _, id := range ids {
		if got.delivered(id) == 0 {
			t.Fatalf("event %s never delivered", id)
		}
	}
	for topic, recs := range got.all() {
		next := map[string]int64{}
		for _, r := range recs {
			// Redeliveries repeat a prefix; a stream never goes backwards
			// past what it delivered, nor skips.
			if r.Version > next[r.StreamID]+1 {
				t.Fatalf("%s: %s skipped to version %d after %d", topic, r.StreamID, r.Version, next[r.StreamID])
			}
			next[r.StreamID] = max(next[r.StreamID], r.Version)
		}
	}
}

func TestWaitPublished(t *testing.T) {
	store := openStore(t)
	bus := newBus()
	defer bus.Close()
	ctx := t.Context()
	collect(t, ctx, bus, allTopics()...)
	r, err := relay.New(relay.Config{Name: "wait", Store: store, Checkpoints: store, Publisher: bus})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := r.WaitPublished(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitPublished before Run = %v, want DeadlineExceeded", err)
	}
	if err := r.WaitPublished(ctx, 0); err != nil {
		t.Fatalf("WaitPublished(0) = %v", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	waiters := make(chan error, 1)
	go func() { waiters <- r.WaitPublished(ctx, 2) }() // blocked until the second event
	res, err := store.Append(ctx, "exam-w", eventstore.NoStream, []eventstore.Record{fullRecord("exam-w")})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WaitPublished(ctx, res.LastPosition); err != nil || r.Published() < res.LastPosition {
		t.Fatalf("WaitPublished(%d) = %v, Published %d", res.LastPosition, err, r.Published())
	}
	select {
	case err := <-waiters:
		t.Fatalf("waiter for position 2 returned early: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	if _, err := store.Append(ctx, "user-w", eventstore.NoStream, []eventstore.Record{fullRecord("user-w")}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waiters:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter for position 2 not released")
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
}

// flakyCheckpoints fails the first loads.
type flakyCheckpoints struct {
	eventstore.CheckpointStore
	loads atomic.Int64
}

func (f *flakyCheckpoints) LoadCheckpoint(ctx context.Context, name string) (uint64, error) {
	if f.loads.Add(1) <= 2 {
		return 0, errors.New("database starting up")
	}
	return f.CheckpointStore.LoadCheckpoint(ctx, name)
}

func TestRelayRetriesLoadingItsCheckpoint(t *testing.T) {
	store := openStore(t)
	bus := newBus()
	defer bus.Close()
	ctx := t.Context()
	collect(t, ctx, bus, allTopics()...)
	res, err := store.Append(ctx, "exam-l", eventstore.NoStream, []eventstore.Record{fullRecord("exam-l")})
	if err != nil {
		t.Fatal(err)
	}
	r, stop := runRelay(t, relay.Config{Name: "load", Store: store, Checkpoints: &flakyCheckpoints{CheckpointStore: store}, Publisher: bus})
	defer stop()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.WaitPublished(wctx, res.LastPosition); err != nil {
		t.Fatalf("relay did not recover from failed checkpoint loads: %v", err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	rec := fullRecord("attempt-" + uuid.NewString())
	rec.Version, rec.Position = 12, 345
	rec.OccurredAt = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	m := relay.EncodeMessage(rec)
	if m.UUID != rec.EventID {
		t.Errorf("message UUID %s, want the event id %s", m.UUID, rec.EventID)
	}
	for k, want := range map[string]string{
		"ce_actorid": rec.ActorID, "ce_actorrole": "student", "ce_correlationid": rec.CorrelationID,
		"ce_causationid": rec.CausationID, "ce_tags": strings.Join(rec.Tags, ","), "ce_position": "345",
		"ce_streamversion": "12", "ce_source": "/examhall/attempt",
	} {
		if got := m.Metadata.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	got, err := relay.DecodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rec) {
		t.Fatalf("round trip:\n got  %+v\n want %+v", got, rec)
	}
}

func TestDecodeMessageRejectsInvalidMessages(t *testing.T) {
	valid := func() *message.Message {
		r := fullRecord("exam-1")
		r.Version, r.Position = 1, 1
		return relay.EncodeMessage(r)
	}
	if _, err := relay.DecodeMessage(valid()); err != nil {
		t.Fatalf("valid message rejected: %v", err)
	}
	cases := map[string]func(m *message.Message){}
	for _, h := range []string{"ce_id", "ce_type", "ce_source", "ce_subject", "ce_time", "ce_specversion", "ce_streamversion", "ce_position"} {
		cases["missing "+h] = func(m *message.Message) { delete(m.Metadata, h) }
	}
	set := func(k, v string) func(m *message.Message) { return func(m *message.Message) { m.Metadata.Set(k, v) } }
	cases["specversion 0.3"] = set("ce_specversion", "0.3")
	cases["source of another category"] = set("ce_source", "/examhall/attempt")
	cases["source of another system"] = set("ce_source", "/elsewhere/exam")
	cases["time not RFC 3339"] = set("ce_time", "25/11/2026 10:00")
	cases["version zero"] = set("ce_streamversion", "0")
	cases["version negative"] = set("ce_streamversion", "-3")
	cases["version not a number"] = set("ce_streamversion", "three")
	cases["position not a number"] = set("ce_position", "x")
	cases["position negative"] = set("ce_position", "-1")
	cases["content type not JSON"] = set("content-type", "application/xml")
	cases["content type garbage"] = set("content-type", ";;;")
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			m := valid()
			mutate(m)
			if _, err := relay.DecodeMessage(m); !errors.Is(err, relay.ErrBadMessage) {
				t.Fatalf("DecodeMessage = %v, want ErrBadMessage", err)
			}
		})
	}
	t.Run("nil message", func(t *testing.T) {
		if _, err := relay.DecodeMessage(nil); !errors.Is(err, relay.ErrBadMessage) {
			t.Fatalf("DecodeMessage(nil) = %v, want ErrBadMessage", err)
		}
	})
	t.Run("content type with parameters", func(t *testing.T) {
		m := valid()
		m.Metadata.Set("content-type", "application/json; charset=utf-8")
		if _, err := relay.DecodeMessage(m); err != nil {
			t.Fatalf("DecodeMessage = %v", err)
		}
	})
}
