package platform_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/cmd/platform"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/examhall/exam/internal/kafkatest"
	"github.com/jackc/pgx/v5"
)

// BenchmarkProjectorThroughKafka measures rows/s into PostgreSQL through
// the whole consumer path: Kafka (8 partitions; kfake, and a private real
// Apache Kafka broker from internal/kafkatest) → kafkabus subscribers in
// the results projection's consumer group → projections.Runner.Consume →
// pgread's Results projection (one transaction per event with its stream
// checkpoint and partition offset). The group is formed first (on empty
// topics); the clock runs from the first publish of b.N grade events (one
// new result row each, 50 per exam stream) until the last row is in
// rm_results. Publishing is a small part of it (see publish-ms).
//
//	go test -run '^$' -bench ProjectorThroughKafka -benchtime 4000x ./cmd/platform
func BenchmarkProjectorThroughKafka(b *testing.B) {
	const topic = "exam.grades"
	for _, broker := range []string{"kfake", "kafka"} {
		for _, instances := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/instances=%d", broker, instances), func(b *testing.B) {
				benchProjector(b, broker, topic, instances)
			})
		}
	}
}

// realKafka starts a private Apache Kafka broker (fixed topic and group
// names: nothing may be left from another run) with the platform's topics
// at 8 partitions.
func realKafka(b *testing.B) []string {
	broker := kafkatest.Start(b)
	topics := make([]string, 0, len(relay.DefaultTopics))
	for _, topic := range relay.DefaultTopics {
		topics = append(topics, topic)
	}
	kafkatest.CreateTopics(b, broker.Brokers(), 8, topics...)
	return broker.Brokers()
}

func benchProjector(b *testing.B, broker, topic string, instances int) {
	rm, conn, schema := freshReadModel(b)
	var brokers []string
	if broker == "kafka" {
		brokers = realKafka(b)
	} else {
		brokers = failoverCluster(b)
	}
	group := "exam.projector." + rm.Results().Name()
	var ids []string
	for i := range instances {
		id := fmt.Sprintf("projector-%d", i)
		startProjector(b, brokers, group, topic, id, time.Second, rm.Results(), nil, discardLog)
		ids = append(ids, id)
	}
	waitGroup(b, brokers, group, topic, 8, ids...)
	recs, _ := gradeStreams((b.N+49)/50, 50, false)
	recs = recs[:b.N]

	b.ResetTimer()
	start := time.Now()
	publishRecords(b, brokers, recs)
	published := time.Since(start)
	waitRows(b, conn, pgx.Identifier{schema, "rm_results"}.Sanitize(), b.N, 10*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(published.Microseconds())/1000, "publish-ms")
}

// waitRows polls until table holds want rows.
func waitRows(b *testing.B, conn *pgx.Conn, table string, want int, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n == want {
			return
		}
		if n > want {
			b.Fatalf("%s has %d rows, want %d", table, n, want)
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s has %d of %d rows after %s", table, n, want, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkEndToEndLag measures how long a write takes to become visible in
// the PostgreSQL read model in the distributed mode, at a steady load: one
// platform with every role (PostgreSQL event store, relay to kfake with 8
// partitions, projectors in their consumer groups, PostgreSQL read models)
// registers b.N users at a fixed rate (50/s, and 200/s for comparison)
// through platform.Commands (no HTTP). A write's lag runs from the moment
// its command returns (its events are committed in the store) until its
// user stream's version is in rm_applied (same transaction as the rm_users
// row), polled every 2 ms for all pending writes at once: the figures
// include up to 2 ms of polling delay.
//
//	go test -run '^$' -bench EndToEndLag -benchtime 500x ./cmd/platform
func BenchmarkEndToEndLag(b *testing.B) {
	for _, rate := range []int{50, 200} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) { benchLag(b, rate) })
	}
}

func benchLag(b *testing.B, rate int) {
	const poll = 2 * time.Millisecond
	ctx := context.Background()
	conn := pgConn(b)
	events, reads := freshSchema(b, conn, "lag_ev_"), freshSchema(b, conn, "lag_rm_")
	brokers := failoverCluster(b)

	cfg := platform.Defaults()
	cfg.DataDir = b.TempDir()
	cfg.EventStore, cfg.EventStorePostgresURL, cfg.EventStorePostgresSchema = platform.EventStorePostgres, readModelTestURL(), events
	cfg.ReadModelPostgresURL, cfg.ReadModelPostgresSchema = readModelTestURL(), reads
	cfg.KafkaBrokers, cfg.KafkaPartitions = brokers, 8
	cfg.JWTSecret = "shared-secret-of-at-least-32-characters!"
	cfg.Argon2 = auth.TestArgon2Params()
	cfg.Logger = discardLog
	p, err := platform.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })

	w := newLagWatcher(b, pgx.Identifier{reads, "rm_applied"}.Sanitize())
	admin := commands.Meta{Actor: domain.Actor{ID: "lag-bench-admin", Role: domain.RoleAdmin}}
	var seq int
	register := func() error {
		seq++
		res, err := p.Commands.RegisterUser.Handle(ctx, commands.Meta{Actor: admin.Actor, RequestID: fmt.Sprintf("lag-%d", seq)}, domain.RegisterInput{
			Email: fmt.Sprintf("lag%06d@school.test", seq), Password: "doctor-pass-1", FullName: "Dr. Lag", Role: domain.RoleDoctor, Subject: "Biology",
		})
		if err != nil {
			return err
		}
		w.wrote(domain.UserStream(res.User.ID), time.Now())
		return nil
	}
	// Warm up until the relay and the consumer groups deliver.
	for range 5 {
		if err := register(); err != nil {
			b.Fatal(err)
		}
	}
	w.run(poll)
	if err := w.drain(60 * time.Second); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	w.reset()

	b.ResetTimer()
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	for i := range b.N {
		if i > 0 {
			<-tick.C
		}
		// Commands run one after another; a slow one delays the next tick
		// (the ticker drops ticks) rather than piling up writers.
		if err := register(); err != nil {
			b.Fatal(err)
		}
	}
	tick.Stop()
	writing := time.Since(start)
	if err := w.drain(60 * time.Second); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	lags := w.stop()
	if len(lags) != b.N {
		b.Fatalf("%d lags measured for %d writes", len(lags), b.N)
	}
	slices.Sort(lags)
	q := func(f float64) float64 {
		return float64(lags[min(len(lags)-1, int(f*float64(len(lags))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/writing.Seconds(), "writes/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lags[len(lags)-1].Microseconds())/1000, "max-ms")
}

// lagWatcher polls rm_applied for the streams written and records, for
// each, the time from its write to its first sighting.
type lagWatcher struct {
	conn  *pgx.Conn
	table string
	once  sync.Once

	mu      sync.Mutex
	pending map[string]time.Time
	lags    []time.Duration
	err     error
	quit    chan struct{}
	done    chan struct{}
}

func newLagWatcher(b *testing.B, table string) *lagWatcher {
	w := &lagWatcher{conn: pgConn(b), table: table, pending: map[string]time.Time{}}
	b.Cleanup(func() { w.stop() }) // before the connection closes
	return w
}

func (w *lagWatcher) wrote(stream string, at time.Time) {
	w.mu.Lock()
	w.pending[stream] = at
	w.mu.Unlock()
}

func (w *lagWatcher) run(every time.Duration) {
	w.quit, w.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-t.C:
			}
			w.mu.Lock()
			streams := make([]string, 0, len(w.pending))
			for s := range w.pending {
				streams = append(streams, s)
			}
			w.mu.Unlock()
			if len(streams) == 0 {
				continue
			}
			rows, err := w.conn.Query(context.Background(), "SELECT stream_id FROM "+w.table+" WHERE projection = 'users' AND stream_id = ANY($1)", streams)
			var seen []string
			if err == nil {
				seen, err = pgx.CollectRows(rows, pgx.RowTo[string])
			}
			now := time.Now()
			w.mu.Lock()
			if err != nil && w.err == nil {
				w.err = err
			}
			for _, s := range seen {
				if at, ok := w.pending[s]; ok {
					w.lags = append(w.lags, now.Sub(at))
					delete(w.pending, s)
				}
			}
			w.mu.Unlock()
		}
	}()
}

// drain waits until every write was seen.
func (w *lagWatcher) drain(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		left, err := len(w.pending), w.err
		w.mu.Unlock()
		switch {
		case err != nil:
			return err
		case left == 0:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%d writes not visible in the read model after %s", left, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

func (w *lagWatcher) reset() {
	w.mu.Lock()
	w.lags = nil
	w.mu.Unlock()
}

func (w *lagWatcher) stop() []time.Duration {
	w.once.Do(func() {
		if w.quit != nil {
			close(w.quit)
			<-w.done
		}
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lags
}
