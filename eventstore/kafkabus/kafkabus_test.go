package kafkabus_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/examhall/exam/eventstore/relay"
)

// publishRecords publishes recs in runs of at most batch, as the relay does.
func publishRecords(t testing.TB, pub message.Publisher, topic string, recs []eventstore.Record, batch int) {
	t.Helper()
	for start := 0; start < len(recs); start += batch {
		end := min(start+batch, len(recs))
		msgs := make([]*message.Message, 0, end-start)
		for _, r := range recs[start:end] {
			msgs = append(msgs, relay.EncodeMessage(r))
		}
		if err := pub.Publish(topic, msgs...); err != nil {
			t.Fatal(err)
		}
	}
}

// Any Kafka client reads what the publisher writes: key = stream id,
// CloudEvents headers, the JSON data as value, and each stream's events in
// version order, exactly once (no failure, so no republication).
func TestPublishedRecordsFollowTheCloudEventsKafkaBinding(t *testing.T) {
	onEveryBus(t, func(t *testing.T, b *bus) { publishedRecordsFollowTheBinding(t, b) })
}

func publishedRecordsFollowTheBinding(t *testing.T, b *bus) {
	for _, tc := range []struct {
		name string
		cfg  kafkabus.PublisherConfig
	}{
		{"batched-lz4", kafkabus.PublisherConfig{}},
		{"batched-zstd", kafkabus.PublisherConfig{Compression: "zstd"}},
		{"one-by-one-none", kafkabus.PublisherConfig{OneByOne: true, Compression: "none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic, brokers := b.topic(t, "exam.attempts", 3), b.brokers
			cfg := tc.cfg
			cfg.Brokers, cfg.Logger = brokers, testLogger(t)
			pub := newPublisher(t, cfg)
			recs := records("attempt", 7, 12)
			publishRecords(t, pub, topic, recs, 25)

			got := consumeAll(t, brokers, topic, len(recs), 10*time.Second)
			if len(got) != len(recs) {
				t.Fatalf("%d records, want %d", len(got), len(recs))
			}
			byID := map[string]eventstore.Record{}
			for _, r := range recs {
				byID[r.EventID] = r
			}
			lastVersion := map[string]int64{}
			partitionOf := map[string]int32{}
			for _, kr := range got {
				id, _ := header(kr, "ce_id")
				want, ok := byID[id]
				if !ok {
					t.Fatalf("record with unknown ce_id %q", id)
				}
				delete(byID, id)
				if string(kr.Key) != want.StreamID {
					t.Errorf("%s: key %q, want the stream id %q", id, kr.Key, want.StreamID)
				}
				if !bytes.Equal(kr.Value, want.Data) {
					t.Errorf("%s: value %q, want %q", id, kr.Value, want.Data)
				}
				for k, v := range map[string]string{
					"ce_id": want.EventID, "ce_type": want.Type, "ce_source": "/examhall/attempt",
					"ce_time": want.OccurredAt.Format(time.RFC3339Nano), "ce_specversion": "1.0",
					"ce_subject": want.StreamID, "content-type": "application/json",
				} {
					if got, ok := header(kr, k); !ok || got != v {
						t.Errorf("%s: header %s = %q (present %v), want %q", id, k, got, ok, v)
					}
				}
				for _, k := range []string{"partition_key", "_watermill_message_uuid"} {
					if _, ok := header(kr, k); ok {
						t.Errorf("%s: header %s should not be on the wire", id, k)
					}
				}
				if kr.ProducerID < 0 {
					t.Errorf("%s: written without a producer id: the producer is not idempotent", id)
				}
				if p, ok := partitionOf[want.StreamID]; ok && p != kr.Partition {
					t.Errorf("stream %s on partitions %d and %d", want.StreamID, p, kr.Partition)
				}
				partitionOf[want.StreamID] = kr.Partition
				if want.Version != lastVersion[want.StreamID]+1 {
					t.Errorf("stream %s: version %d after %d", want.StreamID, want.Version, lastVersion[want.StreamID])
				}
				lastVersion[want.StreamID] = want.Version
			}
			used := map[int32]bool{}
			for _, p := range partitionOf {
				used[p] = true
			}
			if len(used) < 2 {
				t.Errorf("7 streams all on partition(s) %v: keys do not spread", used)
			}
		})
	}
}

// Our subscriber, in a consumer group, gets messages relay.DecodeMessage
// turns back into exactly the records that were published.
func TestSubscriberReconstructsRecords(t *testing.T) {
	onEveryBus(t, subscriberReconstructsRecords)
}

func subscriberReconstructsRecords(t *testing.T, b *bus) {
	topic, brokers := b.topic(t, "exam.exams", 2), b.brokers
	pub := newPublisher(t, kafkabus.PublisherConfig{Brokers: brokers, Logger: testLogger(t)})
	recs := records("exam", 4, 5)
	publishRecords(t, pub, topic, recs, 8)

	sub := newSubscriber(t, kafkabus.SubscriberConfig{Brokers: brokers, ConsumerGroup: b.unique(t, "reconstruct-test"), Logger: testLogger(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]eventstore.Record{}
	for _, r := range recs {
		want[r.EventID] = r
	}
	last := map[string]int64{}
	for len(want) > 0 {
		var msg *message.Message
		select {
		case msg = <-msgs:
		case <-ctx.Done():
			t.Fatalf("%d records never arrived", len(want))
		}
		rec, err := relay.DecodeMessage(msg)
		if err != nil {
			t.Fatal(err)
		}
		msg.Ack()
		if msg.UUID != rec.EventID {
			t.Errorf("message uuid %q, event id %q", msg.UUID, rec.EventID)
		}
		if got := msg.Metadata.Get(relay.HeaderPartitionKey); got != rec.StreamID {
			t.Errorf("partition_key %q, want %q", got, rec.StreamID)
		}
		orig, ok := want[rec.EventID]
		if !ok {
			t.Fatalf("unexpected or repeated event %s", rec.EventID)
		}
		delete(want, rec.EventID)
		if !reflect.DeepEqual(rec, orig) {
			t.Errorf("decoded\n%+v\nwant\n%+v", rec, orig)
		}
		if rec.Version != last[rec.StreamID]+1 {
			t.Errorf("stream %s: version %d after %d", rec.StreamID, rec.Version, last[rec.StreamID])
		}
		last[rec.StreamID] = rec.Version
	}
}

// Two members share a group; one closes while events keep coming; the
// other takes its partitions over and every event is received at least
// once: acked by the member that left, or received by the one that stayed.
func TestRebalanceWhenAMemberLeaves(t *testing.T) {
	onEveryBus(t, rebalanceWhenAMemberLeaves)
}

func rebalanceWhenAMemberLeaves(t *testing.T, b *bus) {
	topic, group, brokers := b.topic(t, "exam.attempts", 4), b.unique(t, "rebalance-test"), b.brokers
	pub := newPublisher(t, kafkabus.PublisherConfig{Brokers: brokers, Logger: testLogger(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	subA := newSubscriber(t, kafkabus.SubscriberConfig{Brokers: brokers, ConsumerGroup: group, ClientID: "member-a", Logger: testLogger(t)})
	subB := newSubscriber(t, kafkabus.SubscriberConfig{Brokers: brokers, ConsumerGroup: group, ClientID: "member-b", Logger: testLogger(t)})
	var (
		mu           sync.Mutex
		ackedByA     = map[string]bool{}
		receivedByB  = map[string]bool{}
		partitionsOf = map[string]map[int32]bool{} // member → partitions it received from
	)
	consume := func(name string, sub message.Subscriber, into map[string]bool) <-chan struct{} {
		msgs, err := sub.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for msg := range msgs {
				rec, err := relay.DecodeMessage(msg)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				into[rec.EventID] = true
				if partitionsOf[name] == nil {
					partitionsOf[name] = map[int32]bool{}
				}
				partitionsOf[name][partitionOf(msg)] = true
				mu.Unlock()
				msg.Ack()
			}
		}()
		return done
	}
	doneA := consume("a", subA, ackedByA)
	consume("b", subB, receivedByB)

	// Both members hold partitions before anything is published.
	waitGroup(ctx, t, brokers, group, func(ms []groupMember) bool {
		return len(ms) == 2 && ms[0].assigned > 0 && ms[1].assigned > 0
	})

	// Publish continuously: 40 streams, one event each per round.
	recs := records("attempt", 40, 30)
	published := make(chan int, len(recs)) // count published so far
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for start := 0; start < len(recs); start += 40 {
			msgs := make([]*message.Message, 0, 40)
			for _, r := range recs[start : start+40] {
				msgs = append(msgs, relay.EncodeMessage(r))
			}
			if err := pub.Publish(topic, msgs...); err != nil {
				t.Error(err)
				return
			}
			published <- start + 40
			time.Sleep(20 * time.Millisecond)
		}
	}()

	// Close A mid-stream, once both have received events.
	for {
		mu.Lock()
		ready := len(ackedByA) > 0 && len(receivedByB) > 0
		mu.Unlock()
		if ready {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("both members never received events")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := subA.Close(); err != nil {
		t.Fatal(err)
	}
	<-doneA
	mu.Lock()
	partsA := len(partitionsOf["a"])
	mu.Unlock()
	var sentBeforeClose int
	for drained := false; !drained; {
		select {
		case n := <-published:
			sentBeforeClose = n
		default:
			drained = true
		}
	}
	t.Logf("member a closed after acking %d events from %d partitions; %d of %d events published by then",
		len(ackedByA), partsA, sentBeforeClose, len(recs))
	if sentBeforeClose == len(recs) {
		t.Fatal("everything was published before the member left: not mid-stream")
	}

	waitGroup(ctx, t, brokers, group, func(ms []groupMember) bool {
		return len(ms) == 1 && ms[0].clientID == "member-b" && ms[0].assigned == 4
	})
	<-pubDone

	for {
		mu.Lock()
		var missing []string
		for _, r := range recs {
			if !ackedByA[r.EventID] && !receivedByB[r.EventID] {
				missing = append(missing, r.EventID)
			}
		}
		partsB := len(partitionsOf["b"])
		mu.Unlock()
		if len(missing) == 0 {
			if partsB != 4 {
				t.Errorf("member b received from %d partitions, want all 4", partsB)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d events never received (first %s)", len(missing), len(recs), missing[0])
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func partitionOf(msg *message.Message) int32 {
	p, _ := kafka.MessagePartitionFromCtx(msg.Context())
	return p
}

func TestEnsureTopicsCreatesMissingTopicsOnly(t *testing.T) {
	onEveryBus(t, ensureTopicsCreatesMissingTopicsOnly)
}

func ensureTopicsCreatesMissingTopicsOnly(t *testing.T, b *bus) {
	brokers := b.brokers
	exams, attempts, grades := b.topic(t, "exam.exams", 2), b.unique(t, "exam.attempts"), b.unique(t, "exam.grades")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topics := []string{exams, attempts, grades}
	for range 2 { // the second run finds them all
		if err := kafkabus.EnsureTopics(ctx, brokers, topics, 6); err != nil {
			t.Fatal(err)
		}
	}
	for topic, want := range map[string]int{exams: 2, attempts: 6, grades: 6} {
		if got := partitionCount(t, brokers, topic); got != want {
			t.Errorf("%s: %d partitions, want %d", topic, got, want)
		}
	}
	err := kafkabus.EnsureTopics(ctx, nil, []string{""}, 0)
	for _, want := range []string{"Brokers is required", "partitions must be at least 1", "empty topic name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	perr := kafkabus.PublisherConfig{Brokers: []string{""}, Version: "2.7.0", Compression: "brotli", MaxRetries: -1, RetryBackoff: -1}.Validate()
	for _, want := range []string{"Brokers[0] is empty", "older than 2.8.0", `unknown Compression "brotli"`, "MaxRetries", "RetryBackoff"} {
		if perr == nil || !strings.Contains(perr.Error(), want) {
			t.Errorf("publisher error %v does not mention %q", perr, want)
		}
	}
	serr := kafkabus.SubscriberConfig{Version: "bogus", SessionTimeout: 6 * time.Second, HeartbeatInterval: 3 * time.Second, CommitInterval: -1}.Validate()
	for _, want := range []string{"Brokers is required", "ConsumerGroup is required", `Version "bogus"`, "CommitInterval", "a third of SessionTimeout"} {
		if serr == nil || !strings.Contains(serr.Error(), want) {
			t.Errorf("subscriber error %v does not mention %q", serr, want)
		}
	}
	if err := (kafkabus.PublisherConfig{Brokers: []string{"k:9092"}, Version: "4.0.0"}).Validate(); err != nil {
		t.Error(err)
	}
	if err := (kafkabus.SubscriberConfig{Brokers: []string{"k:9092"}, ConsumerGroup: "degrees-projector"}).Validate(); err != nil {
		t.Error(err)
	}
	if _, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{}); err == nil {
		t.Error("NewPublisher accepted an empty config")
	}
	if _, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{}); err == nil {
		t.Error("NewSubscriber accepted an empty config")
	}
}

// A message without a stream id is refused rather than sent without a key.
func TestPublishRefusesMessagesWithoutStreamID(t *testing.T) {
	onEveryBus(t, publishRefusesMessagesWithoutStreamID)
}

func publishRefusesMessagesWithoutStreamID(t *testing.T, b *bus) {
	topic := b.topic(t, "exam.exams", 1)
	pub := newPublisher(t, kafkabus.PublisherConfig{Brokers: b.brokers, Logger: discard})
	err := pub.Publish(topic, message.NewMessage("x", []byte(`{}`)))
	if err == nil || !strings.Contains(err.Error(), "partition_key") {
		t.Fatalf("err %v", err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, relay.EncodeMessage(records("exam", 1, 1)[0])); !errors.Is(err, kafkabus.ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}
