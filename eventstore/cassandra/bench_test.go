package cassandra

import (
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/internal/cassandratest"
)

// Benchmarks use realistic envelopes (UUID ids, two tags, a small JSON
// payload) and report events/s; every append is acknowledged at QUORUM
// (the replication factor is EXAM_BENCH_CASSANDRA_RF, default 1). Run them with
//
//	go test -run '^$' -bench . -benchtime 2000x ./eventstore/cassandra

var benchData = []byte(`{"question_id":"0b6c2f0e-5d9f-4a55-9f2a-3f8a0f3c1c11","choice_ids":["a","c"],"saved_at":"2025-01-01T10:00:00Z"}`)

func benchEvent(stream string, exam string) eventstore.Record {
	actor := uuid.NewString()
	return eventstore.Record{EventID: uuid.NewString(), Type: "exam.answer_saved.v1", OccurredAt: time.Now(),
		ActorID: actor, ActorRole: "student", CorrelationID: uuid.NewString(),
		Tags: []string{exam, "student:" + actor}, Data: benchData}
}

func openBench(b *testing.B) *Store {
	b.Helper()
	cfg := testConfig(b, cassandratest.Keyspace(b, "esbench_"))
	if rf, err := strconv.Atoi(os.Getenv("EXAM_BENCH_CASSANDRA_RF")); err == nil {
		cfg.ReplicationFactor = rf
	}
	cfg.FeedDelay = time.Second
	return openStore(b, cfg)
}

// BenchmarkAppend64Writers: 64 goroutines, each appending one event at a
// time to its own stream (an answer save per student).
func BenchmarkAppend64Writers(b *testing.B) {
	s := openBench(b)
	exam := "exam:" + uuid.NewString()
	const writers = 64
	var next atomic.Int64
	var lat []time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	b.ResetTimer()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := "attempt-" + uuid.NewString()
			var mine []time.Duration
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if _, err := s.Append(b.Context(), stream, eventstore.AnyVersion, []eventstore.Record{benchEvent(stream, exam)}); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	b.Logf("%d appends: %s", b.N, percentiles(lat))
}

// BenchmarkFeedRead: how fast a tailer (the relay) reads the feed, 500 at a time.
func BenchmarkFeedRead(b *testing.B) {
	s := openBench(b)
	exam := "exam:" + uuid.NewString()
	const events = 5000
	var wg sync.WaitGroup
	for w := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := "attempt-" + uuid.NewString()
			for range events / 50 {
				if _, err := s.Append(b.Context(), stream, eventstore.AnyVersion, []eventstore.Record{benchEvent(stream, exam)}); err != nil {
					b.Error(err)
					return
				}
			}
			_ = w
		}()
	}
	wg.Wait()
	time.Sleep(2 * s.cfg.FeedDelay)
	b.ResetTimer()
	read := 0
	for range b.N {
		var after uint64
		for {
			recs, err := s.ReadAll(b.Context(), after, 500)
			if err != nil {
				b.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			read += len(recs)
			after = recs[len(recs)-1].Position
		}
	}
	b.StopTimer()
	if read != b.N*events {
		b.Fatalf("read %d events, want %d", read, b.N*events)
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "events/s")
}
