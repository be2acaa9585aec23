package kafkabus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/embedded"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/examhall/exam/internal/kafkatest"
	"github.com/examhall/exam/projections"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
)

func event(t testing.TB, stream string, typ string, data any) eventstore.Record {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.Record{
		EventID: uuid.NewString(), StreamID: stream, Type: typ, OccurredAt: time.Now().UTC(),
		ActorID: "admin-1", ActorRole: "admin", CorrelationID: uuid.NewString(), Data: b,
	}
}

// addExam appends a drafted and published exam (two events on its stream)
// and, as noise, an event of a private category that is never published.
func addExam(t testing.TB, store eventstore.Store, id string) {
	t.Helper()
	ctx := context.Background()
	drafted := event(t, domain.ExamStream(id), domain.TypeExamDrafted, &domain.ExamDrafted{
		ExamID: id, Title: "Exam " + id, LevelID: "l1", OwnerID: "d1",
		Questions: []domain.Question{{ID: "q1", Text: "?", Kind: domain.KindSingle,
			Choices: []domain.Choice{{Key: "a", Text: "x"}, {Key: "b", Text: "y"}}, Correct: []string{"b"}, Points: 1}},
	})
	published := event(t, domain.ExamStream(id), domain.TypeExamPublished, &domain.ExamPublished{ExamID: id, Status: domain.StatusOpen})
	if _, err := store.Append(ctx, drafted.StreamID, eventstore.NoStream, []eventstore.Record{drafted}); err != nil {
		t.Fatal(err)
	}
	private := event(t, domain.SessionStream("s-"+id), "session.started.v1", map[string]string{"id": id})
	if _, err := store.Append(ctx, private.StreamID, eventstore.NoStream, []eventstore.Record{private}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(ctx, published.StreamID, 1, []eventstore.Record{published}); err != nil {
		t.Fatal(err)
	}
}

// failures counts the relay's "publish failed; retrying" warnings.
type failures struct {
	slog.Handler
	n *atomic.Int64
}

func (f failures) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "publish failed") {
		f.n.Add(1)
	}
	return f.Handler.Handle(ctx, r)
}

func (f failures) WithAttrs(as []slog.Attr) slog.Handler {
	return failures{f.Handler.WithAttrs(as), f.n}
}

func (f failures) WithGroup(g string) slog.Handler { return failures{f.Handler.WithGroup(g), f.n} }

func runRelay(t testing.TB, cfg relay.Config) (*relay.Relay, func()) {
	t.Helper()
	rl, err := relay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rl.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Error("relay did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return rl, stop
}

// The relay publishes the store's events through the Kafka publisher, a
// projector fills the catalogue from a consumer group; then the broker goes
// down: the relay keeps retrying and its checkpoint does not move; the
// broker comes back on the same address and a restarted relay republishes
// from the checkpoint: the broker gets every event appended meanwhile, and
// the projector (reconnected by itself) sees them. On kfake the broker that
// comes back is a fresh, empty one; on the real Kafka it is the same broker,
// killed with SIGKILL and started again on its data.
func TestRelayThroughKafkaToProjectionsAcrossBrokerRestart(t *testing.T) {
	t.Run("kfake", func(t *testing.T) {
		c1, brokers := cluster(t)
		_, portStr, _ := net.SplitHostPort(brokers[0])
		port, _ := strconv.Atoi(portStr)
		relayAcrossBrokerRestart(t, restartable{
			brokers: brokers,
			down:    func(*testing.T) { c1.Close() },
			up: func(t *testing.T) {
				// A fresh broker (empty: kfake keeps nothing across
				// restarts) on the same address.
				_, brokers2 := cluster(t, kfake.Ports(port))
				if brokers2[0] != brokers[0] {
					t.Fatalf("new broker at %s, want %s", brokers2[0], brokers[0])
				}
			},
		})
	})
	t.Run("kafka", func(t *testing.T) {
		b := kafkatest.Start(t)
		relayAcrossBrokerRestart(t, restartable{
			brokers: b.Brokers(),
			down: func(t *testing.T) {
				if err := b.Kill(); err != nil {
					t.Fatal(err)
				}
			},
			up: func(t *testing.T) {
				if err := b.Restart(); err != nil {
					t.Fatal(err)
				}
			},
			keepsData: true,
		})
	})
}

// restartable is a broker a test takes down and brings back.
type restartable struct {
	brokers   []string
	down, up  func(t *testing.T)
	keepsData bool // the broker that comes back has the records from before
}

func relayAcrossBrokerRestart(t *testing.T, k restartable) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	brokers := k.brokers
	// Topics of this test's own, so a shared or reused broker holds
	// nothing from another test.
	topicOf := map[string]string{}
	var topics []string
	for cat, base := range relay.DefaultTopics {
		topicOf[cat] = kafkatest.Name(t, base)
		topics = append(topics, topicOf[cat])
	}
	sort.Strings(topics)
	examsTopic := topicOf["exam"]
	if err := kafkabus.EnsureTopics(ctx, brokers, topics, 3); err != nil {
		t.Fatal(err)
	}

	store, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for i := range 5 {
		addExam(t, store, fmt.Sprintf("e%d", i))
	}

	var failed atomic.Int64
	relayLog := slog.New(failures{testLogger(t).Handler(), &failed})
	pubCfg := kafkabus.PublisherConfig{Brokers: brokers, Logger: testLogger(t), MaxRetries: 2, RetryBackoff: 20 * time.Millisecond}
	pub1 := newPublisher(t, pubCfg)
	relayCfg := relay.Config{Name: "kafka-relay", Store: store, Checkpoints: store, Publisher: pub1, Topics: topicOf, Logger: relayLog}
	rl1, stop1 := runRelay(t, relayCfg)

	catalog := projections.NewCatalog()
	runner := projections.NewRunner(discard, catalog)
	// The subscriber logs every failed reconnect while the broker is down:
	// keep it quiet.
	sub := newSubscriber(t, kafkabus.SubscriberConfig{Brokers: brokers, ConsumerGroup: kafkatest.Name(t, "catalog-projector"), Logger: discard})
	// Closed before the second broker goes away (cleanups run after defers).
	defer sub.Close()
	if err := runner.ConsumeTopics(ctx, sub, []string{examsTopic}, nil); err != nil {
		t.Fatal(err)
	}
	haveExams := func(n int) func() bool {
		return func() bool {
			for i := range n {
				if e, ok := catalog.Exam(fmt.Sprintf("e%d", i)); !ok || e.Status != domain.StatusOpen {
					return false
				}
			}
			return true
		}
	}
	t0 := time.Now()
	if !runner.WaitFor(ctx, 20*time.Second, haveExams(5)) {
		t.Fatalf("catalogue incomplete after %d events applied", runner.Applied())
	}
	head, _ := store.Head(ctx)
	if err := rl1.WaitPublished(ctx, head); err != nil {
		t.Fatal(err)
	}
	checkpoint := rl1.Published()
	start := time.Now()
	t.Logf("catalogue built from Kafka in %s; relay checkpoint %d", start.Sub(t0), checkpoint)

	// Broker down: appends go on (the write side never waits for the bus),
	// the relay fails to publish, retries, and does not move its checkpoint.
	k.down(t)
	for i := 5; i < 8; i++ {
		addExam(t, store, fmt.Sprintf("e%d", i))
	}
	for failed.Load() < 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("the relay reported %d publish failures while the broker was down", failed.Load())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if got := rl1.Published(); got != checkpoint {
		t.Fatalf("relay published up to %d with the broker down, checkpoint was %d", got, checkpoint)
	}
	if got, err := store.LoadCheckpoint(ctx, relayCfg.Name); err != nil || got != checkpoint {
		t.Fatalf("stored checkpoint %d (%v), want %d", got, err, checkpoint)
	}
	t.Logf("%s: %d publish failures, checkpoint still %d", time.Since(start), failed.Load(), checkpoint)
	stop1()
	_ = pub1.Close()
	t.Logf("%s: first relay stopped", time.Since(start))

	k.up(t)
	t.Logf("%s: broker back", time.Since(start))
	if err := kafkabus.EnsureTopics(ctx, brokers, topics, 3); err != nil {
		t.Fatal(err)
	}
	relayCfg.Publisher = newPublisher(t, pubCfg)
	rl2, _ := runRelay(t, relayCfg)
	newHead, _ := store.Head(ctx)
	if err := rl2.WaitPublished(ctx, newHead); err != nil {
		t.Fatalf("restarted relay stuck at %d, head %d", rl2.Published(), newHead)
	}

	t.Logf("%s: restarted relay published up to %d", time.Since(start), rl2.Published())

	// The broker holds the published events after the checkpoint: nothing
	// lost. A fresh broker holds exactly those; the restarted one also every
	// event from before the checkpoint (it kept its log), each stream in
	// version order the first time it appears.
	from := checkpoint
	if k.keepsData {
		from = 0
	}
	after, err := store.ReadAll(ctx, from, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]eventstore.Record{}
	for _, r := range after {
		if _, ok := relay.DefaultTopics[eventstore.Category(r.StreamID)]; ok {
			want[r.EventID] = r
		}
	}
	wantN := 6 // 3 exams × 2 after the checkpoint
	if k.keepsData {
		wantN = 16
	}
	if len(want) != wantN {
		t.Fatalf("%d published events from position %d, want %d", len(want), from, wantN)
	}
	held := highWatermarks(t, brokers, examsTopic)
	seen := map[string]bool{}  // event ids read so far
	last := map[string]int64{} // stream → highest version read
	for _, kr := range consumeAll(t, brokers, examsTopic, held, 10*time.Second) {
		id, _ := header(kr, "ce_id")
		if seen[id] {
			continue // at least once: a republished event may come twice
		}
		seen[id] = true
		r, ok := want[id]
		if !ok {
			t.Errorf("unexpected event %s on the broker", id)
			continue
		}
		if k.keepsData && r.Version > last[r.StreamID]+1 {
			t.Errorf("stream %s: version %d first seen after version %d", r.StreamID, r.Version, last[r.StreamID])
		}
		last[r.StreamID] = max(last[r.StreamID], r.Version)
		delete(want, id)
	}
	if len(want) != 0 {
		t.Errorf("%d events missing on the broker that came back", len(want))
	}
	t.Logf("the broker holds %d records for %d events", held, wantN)
	if !runner.WaitFor(ctx, 20*time.Second, haveExams(8)) {
		t.Fatalf("catalogue missing the exams appended while the broker was down (%d events applied)", runner.Applied())
	}
	t.Logf("%s: the projector, reconnected, has all 8 exams", time.Since(start))
}
