package postgres

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/examhall/exam/eventstore"
)

// Benchmarks use realistic envelopes (UUID ids, two tags, a small JSON
// payload) and report events/s. Every append is committed (synchronous_commit
// on) before it returns. Run them with e.g.
//
//	go test -run '^$' -bench . -benchtime 3s ./eventstore/postgres

var benchData = []byte(`{"question_id":"0b6c2f0e-5d9f-4a55-9f2a-3f8a0f3c1c11","choice_ids":["a","c"],"saved_at":"2025-01-01T10:00:00Z"}`)

type benchStudent struct {
	stream, actor string
	tags          []string
}

var benchExamTag = "exam:" + uuid.NewString()

func newBenchStudent() benchStudent {
	id := uuid.NewString()
	return benchStudent{stream: "attempt-" + uuid.NewString(), actor: id, tags: []string{benchExamTag, "student:" + id}}
}

func (st benchStudent) event() eventstore.Record {
	return eventstore.Record{
		EventID:       uuid.NewString(),
		Type:          "exam.answer_saved.v1",
		OccurredAt:    time.Now(),
		ActorID:       st.actor,
		ActorRole:     "student",
		CorrelationID: uuid.NewString(),
		Tags:          st.tags,
		Data:          benchData,
	}
}

func openBench(b *testing.B, tune func(*Config)) *Store {
	b.Helper()
	cfg := testConfig(newSchema(b))
	cfg.MaxConns = 8
	if tune != nil {
		tune(&cfg)
	}
	return openStore(b, cfg)
}

func reportEvents(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppendOneWriter: one writer, one event per append, each waiting
// for its commit.
func BenchmarkAppendOneWriter(b *testing.B) {
	s := openBench(b, nil)
	ctx := context.Background()
	st := newBenchStudent()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Append(ctx, st.stream, int64(i), []eventstore.Record{st.event()}); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, b.N)
}

// BenchmarkAppend64Writers: 64 goroutines, one event per append, each on its
// own stream. With group commit their appends share transactions (and
// fsyncs); with MaxBatchAppends 1 every append is a transaction of its own,
// serialised by the append lock: the cost of commit-ordered positions
// without group commit.
func BenchmarkAppend64Writers(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch int
	}{{"group_commit", 0}, {"one_append_per_tx", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			s := openBench(b, func(c *Config) { c.MaxBatchAppends = bc.batch })
			ctx := context.Background()
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				st := newBenchStudent()
				ev := make([]eventstore.Record, 1)
				for v := int64(0); pb.Next(); v++ {
					ev[0] = st.event()
					if _, err := s.Append(ctx, st.stream, v, ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportEvents(b, b.N)
		})
	}
}

// BenchmarkReadAll: a tailer reading the feed in pages of 500.
func BenchmarkReadAll(b *testing.B) {
	const total, page = 20_000, 500
	s := openBench(b, nil)
	ctx := context.Background()
	evs := make([]eventstore.Record, 1000)
	for range total / len(evs) {
		st := newBenchStudent()
		for i := range evs {
			evs[i] = st.event()
		}
		if _, err := s.Append(ctx, st.stream, eventstore.NoStream, evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	read := 0
	for range b.N {
		var after uint64
		for {
			recs, err := s.ReadAll(ctx, after, page)
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
	reportEvents(b, read)
}
