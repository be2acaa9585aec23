package kafkabus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/examhall/exam/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The real-Kafka tests share one broker per test binary (or the one
// EXAM_TEST_KAFKA_BROKERS names); Main stops it.
func TestMain(m *testing.M) { os.Exit(kafkatest.Main(m)) }

// bus is one Kafka the adapter's tests run against: kfake (in process, a
// fresh cluster per test) or the real Apache Kafka (shared, so every topic
// and group name is made unique to the test).
type bus struct {
	name    string
	brokers []string
	real    bool
}

// onEveryBus runs fn as a subtest on kfake and on the real Kafka broker.
func onEveryBus(t *testing.T, fn func(t *testing.T, b *bus)) {
	t.Run("kfake", func(t *testing.T) {
		_, brokers := cluster(t)
		fn(t, &bus{name: "kfake", brokers: brokers})
	})
	t.Run("kafka", func(t *testing.T) {
		fn(t, &bus{name: "kafka", brokers: kafkatest.Brokers(t), real: true})
	})
}

// topic creates a topic with the given partitions, named after base (made
// unique on the shared real broker), and returns its name.
func (b *bus) topic(t testing.TB, base string, partitions int) string {
	t.Helper()
	name := b.unique(t, base)
	kafkatest.CreateTopics(t, b.brokers, partitions, name)
	return name
}

// unique is a name of base's own: the real broker is shared by every test,
// and a kfake cluster by the subtests of one.
func (b *bus) unique(t testing.TB, base string) string { return kafkatest.Name(t, base) }

// admin is a cluster admin closed when the test ends.
func admin(t testing.TB, brokers []string) sarama.ClusterAdmin {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	a, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// groupMember is what the group coordinator says of one member.
type groupMember struct {
	clientID string
	assigned int // partitions assigned
}

// waitGroup polls the coordinator (DescribeGroups, as any admin tool does)
// until the group is Stable and ok accepts its members.
func waitGroup(ctx context.Context, t testing.TB, brokers []string, group string, ok func([]groupMember) bool) {
	t.Helper()
	a := admin(t, brokers)
	var last []groupMember
	var state string
	for {
		ds, err := a.DescribeConsumerGroups([]string{group})
		if err == nil && len(ds) == 1 {
			state, last = ds[0].State, nil
			for _, m := range ds[0].Members {
				gm := groupMember{clientID: m.ClientId}
				if as, err := m.GetMemberAssignment(); err == nil && as != nil {
					for _, ps := range as.Topics {
						gm.assigned += len(ps)
					}
				}
				last = append(last, gm)
			}
			if state == "Stable" && ok(last) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("group %s: state %q, members %+v: never as expected (%v)", group, state, last, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// partitionCount is the number of partitions of topic. A real broker
// answers CreateTopics before every broker's metadata has the topic
// (LEADER_NOT_AVAILABLE for a moment): it asks again for a while.
func partitionCount(t testing.TB, brokers []string, topic string) int {
	t.Helper()
	a := admin(t, brokers)
	deadline := time.Now().Add(15 * time.Second)
	for {
		md, err := a.DescribeTopics([]string{topic})
		if err == nil && len(md) == 1 && md[0].Err == sarama.ErrNoError {
			return len(md[0].Partitions)
		}
		if time.Now().After(deadline) {
			if err == nil && len(md) == 1 {
				err = md[0].Err
			}
			t.Fatalf("describe %s: %v", topic, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// highWatermarks sums the end offsets of topic's partitions: how many
// records it holds.
func highWatermarks(t testing.TB, brokers []string, topic string) int {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cl, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	parts, err := cl.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int
	for _, p := range parts {
		off, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		total += int(off)
	}
	return total
}

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
