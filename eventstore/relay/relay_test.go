package relay_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/embedded"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/google/uuid"
)

func openStore(t *testing.T) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func appendN(t *testing.T, s eventstore.Store, stream string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		_, err := s.Append(context.Background(), stream, eventstore.AnyVersion, []eventstore.Record{{
			EventID: uuid.NewString(), StreamID: stream, Type: "test.happened.v1", OccurredAt: time.Now().UTC(),
			ActorID: "actor-1", ActorRole: "doctor", CorrelationID: "req-1", Tags: []string{"exam:x", "student:y"},
			Data: []byte(fmt.Sprintf(`{"i":%d}`, i)),
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// collector records every message of some topics, acking each.
type collector struct {
	mu   sync.Mutex
	recs []eventstore.Record
}

func (c *collector) consume(t *testing.T, ctx context.Context, sub message.Subscriber, topics ...string) {
	for _, topic := range topics {
		msgs, err := sub.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for m := range msgs {
				r, err := relay.DecodeMessage(m)
				if err != nil {
					t.Errorf("decode: %v", err)
				}
				c.mu.Lock()
				c.recs = append(c.recs, r)
				c.mu.Unlock()
				m.Ack()
			}
		}()
	}
}

func (c *collector) snapshot() []eventstore.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]eventstore.Record(nil), c.recs...)
}

func newBus() *gochannel.GoChannel {
	return gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
}

func runRelay(t *testing.T, cfg relay.Config) (*relay.Relay, func()) {
	t.Helper()
	r, err := relay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	return r, func() { cancel(); <-done }
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRelayPublishesEveryEventInStreamOrderWithHeaders(t *testing.T) {
	store := openStore(t)
	bus := newBus()
	defer bus.Close()
	var got collector
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got.consume(t, ctx, bus, "exam.exams", "exam.attempts")

	appendN(t, store, "exam-1", 5)
	appendN(t, store, "attempt-1", 7)
	appendN(t, store, "credentials-1", 3) // private: never published
	appendN(t, store, "exam-2", 4)
	_, stop := runRelay(t, relay.Config{Name: "r", Store: store, Checkpoints: store, Publisher: bus})
	defer stop()
	waitFor(t, "16 events", func() bool { return len(got.snapshot()) == 16 })

	stored, err := store.ReadAll(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]eventstore.Record{}
	for _, r := range stored {
		byID[r.EventID] = r
	}
	last := map[string]int64{}
	for _, r := range got.snapshot() {
		if eventstore.Category(r.StreamID) == "credentials" {
			t.Fatalf("private event published: %+v", r)
		}
		want := byID[r.EventID]
		if !r.OccurredAt.Equal(want.OccurredAt) || r.Position != want.Position || r.Version != want.Version ||
			r.Type != want.Type || r.ActorID != want.ActorID || r.ActorRole != want.ActorRole ||
			r.CorrelationID != want.CorrelationID || !reflect.DeepEqual(r.Tags, want.Tags) || string(r.Data) != string(want.Data) {
			t.Fatalf("published %+v, stored %+v", r, want)
		}
		if r.Version != last[r.StreamID]+1 {
			t.Fatalf("stream %s: version %d after %d", r.StreamID, r.Version, last[r.StreamID])
		}
		last[r.StreamID] = r.Version
	}
}

func TestEncodeMessageHeadersFollowCloudEvents(t *testing.T) {
	rec := eventstore.Record{EventID: uuid.NewString(), StreamID: "attempt-42", Version: 3, Position: 9, Type: "attempt.answer_saved.v1",
		OccurredAt: time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC), Data: []byte(`{"a":1}`)}
	m := relay.EncodeMessage(rec)
	want := map[string]string{
		"ce_id": rec.EventID, "ce_type": rec.Type, "ce_source": "/examhall/attempt", "ce_specversion": "1.0",
		"ce_time": "2026-11-25T10:00:00.123456789Z", "ce_subject": "attempt-42", "ce_streamversion": "3",
		"ce_position": "9", "content-type": "application/json", "partition_key": "attempt-42",
	}
	for k, v := range want {
		if got := m.Metadata.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if m.UUID != rec.EventID || string(m.Payload) != `{"a":1}` {
		t.Errorf("uuid/payload = %s %s", m.UUID, m.Payload)
	}
}

func TestRelayResumesFromCheckpointWithoutRedelivery(t *testing.T) {
	store := openStore(t)
	bus := newBus()
	defer bus.Close()
	var got collector
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got.consume(t, ctx, bus, "exam.exams")

	appendN(t, store, "exam-a", 10)
	r, stop := runRelay(t, relay.Config{Name: "r", Store: store, Checkpoints: store, Publisher: bus})
	head, _ := store.Head(ctx)
	if err := r.WaitPublished(ctx, head); err != nil {
		t.Fatal(err)
	}
	stop()
	appendN(t, store, "exam-a", 5)
	_, stop = runRelay(t, relay.Config{Name: "r", Store: store, Checkpoints: store, Publisher: bus})
	defer stop()
	waitFor(t, "15 events", func() bool { return len(got.snapshot()) >= 15 })
	time.Sleep(50 * time.Millisecond)
	if n := len(got.snapshot()); n != 15 {
		t.Fatalf("delivered %d events, want exactly 15 (no redelivery of checkpointed events)", n)
	}
}

// failingCheckpoints fails every save while failing is set.
type failingCheckpoints struct {
	eventstore.CheckpointStore
	failing atomic.Bool
}

func (f *failingCheckpoints) SaveCheckpoint(ctx context.Context, name string, pos uint64) error {
	if f.failing.Load() {
		return errors.New("disk full")
	}
	return f.CheckpointStore.SaveCheckpoint(ctx, name, pos)
}

func TestRelayRepublishesWhenCheckpointFailsAndNeverSkips(t *testing.T) {
	store := openStore(t)
	bus := newBus()
	defer bus.Close()
	var got collector
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got.consume(t, ctx, bus, "exam.exams")

	appendN(t, store, "exam-c", 4)
	cp := &failingCheckpoints{CheckpointStore: store}
	cp.failing.Store(true)
	r, stop := runRelay(t, relay.Config{Name: "r", Store: store, Checkpoints: cp, Publisher: bus})
	waitFor(t, "first delivery", func() bool { return len(got.snapshot()) >= 4 })
	if p := r.Published(); p != 0 {
		t.Fatalf("Published() = %d although no checkpoint was saved", p)
	}
	stop() // the relay "dies" between publish and checkpoint

	appendN(t, store, "exam-c", 2)
	_, stop = runRelay(t, relay.Config{Name: "r", Store: store, Checkpoints: store, Publisher: bus})
	defer stop()
	waitFor(t, "all 6 events after restart", func() bool {
		seen := map[int64]bool{}
		for _, r := range got.snapshot() {
			seen[r.Version] = true
		}
		return len(seen) == 6
	})
	// At least once: the first four came again after the restart.
	count := map[int64]int{}
	for _, r := range got.snapshot() {
		count[r.Version]++
	}
	if count[1] < 2 {
		t.Fatalf("version 1 delivered %d times, want a redelivery after the failed checkpoint", count[1])
	}
}

func TestRelayConfigValidateReportsEverything(t *testing.T) {
	_, err := relay.New(relay.Config{BatchSize: -1})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"Name", "Store", "Checkpoints", "Publisher", "negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	good := relay.EncodeMessage(eventstore.Record{EventID: "e1", StreamID: "exam-1", Version: 1, Position: 1, Type: "exam.drafted.v1",
		OccurredAt: time.Unix(0, 0).UTC(), Tags: []string{"exam:1"}, Data: []byte(`{}`)})
	f.Add(good.UUID, good.Metadata.Get("ce_type"), good.Metadata.Get("ce_subject"), good.Metadata.Get("ce_source"), good.Metadata.Get("ce_streamversion"),
		good.Metadata.Get("ce_position"), good.Metadata.Get("ce_time"), "1.0", "exam:1", []byte(`{}`))
	f.Add("e", "t", "attempt-9", "/examhall/attempt", "7", "12", "2026-11-25T10:00:00.5+01:00", "1.0", "a,,b", []byte(`{"x":[1]}`))
	f.Add("e", "t", "nocategory", "/examhall/nocategory", "1", "1", "2026-11-25T10:00:00Z", "1.0", "", []byte(nil))
	f.Add("", "", "", "", "", "", "", "", "", []byte(nil))
	f.Add("e", "t", "s", "/examhall/other", "-1", "x", "yesterday", "0.3", ",,,", []byte(`garbage`))
	f.Add("e", "t", "s", "/examhall/s", "9223372036854775808", "18446744073709551616", "2026-13-01T00:00:00Z", "1.0", "", []byte(`{}`))
	f.Fuzz(func(t *testing.T, id, typ, subject, source, version, position, ts, spec, tags string, payload []byte) {
		m := message.NewMessage(id, payload)
		m.Metadata.Set("ce_id", id)
		m.Metadata.Set("ce_type", typ)
		m.Metadata.Set("ce_subject", subject)
		m.Metadata.Set("ce_source", source)
		m.Metadata.Set("ce_streamversion", version)
		m.Metadata.Set("ce_position", position)
		m.Metadata.Set("ce_time", ts)
		m.Metadata.Set("ce_specversion", spec)
		m.Metadata.Set("ce_tags", tags)
		r, err := relay.DecodeMessage(m)
		if err != nil {
			if !errors.Is(err, relay.ErrBadMessage) {
				t.Fatalf("error does not wrap ErrBadMessage: %v", err)
			}
			return
		}
		if r.EventID == "" || r.Type == "" || r.StreamID == "" || r.Version < 1 || source != "/examhall/"+eventstore.Category(r.StreamID) {
			t.Fatalf("accepted an invalid message: %+v", r)
		}
		// A decoded record encodes back to a message that decodes the same.
		again, err := relay.DecodeMessage(relay.EncodeMessage(r))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip changed %+v into %+v", r, again)
		}
	})
}
