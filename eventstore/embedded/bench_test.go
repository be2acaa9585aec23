package embedded

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/eventstore"
)

// Benchmarks use realistic envelopes (UUID-sized ids, two tags, a small JSON
// payload) and report events/s. Every append is synced.

// benchData is a ~150-byte answer_saved payload.
var benchData = []byte(`{"question_id":"0b6c2f0e-5d9f-4a55-9f2a-3f8a0f3c1c11","choice_ids":["a","c"],"text":"","saved_at":"2025-01-01T10:00:00.123456Z","time_spent_ms":41250}`)

// randomID returns a random UUID-shaped id, cheaper than crypto/rand UUIDs
// so that the benchmarks measure the store.
func randomID() string {
	const hexdigits = "0123456789abcdef"
	var b [36]byte
	x, y := rand.Uint64(), rand.Uint64()
	for i, j := 0, 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			b[i] = '-'
			continue
		}
		if j < 16 {
			b[i] = hexdigits[x&15]
			x >>= 4
		} else {
			b[i] = hexdigits[y&15]
			y >>= 4
		}
		j++
	}
	return string(b[:])
}

// benchStudent is one writer: a student saving answers in a shared exam.
type benchStudent struct {
	stream string
	actor  string
	tags   []string
}

var benchExamTag = "exam:" + randomID()

func newBenchStudent() benchStudent {
	id := randomID()
	return benchStudent{
		stream: "attempt-" + randomID(),
		actor:  id,
		tags:   []string{benchExamTag, "student:" + id},
	}
}

func (st benchStudent) event(at time.Time) eventstore.Record {
	return eventstore.Record{
		EventID:       randomID(),
		Type:          "exam.answer_saved.v1",
		OccurredAt:    at,
		ActorID:       st.actor,
		ActorRole:     "student",
		CorrelationID: randomID(),
		Tags:          st.tags,
		Data:          benchData,
	}
}

func openBench(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func reportEvents(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppendOneWriter(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	st := newBenchStudent()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Append(ctx, st.stream, int64(i), []eventstore.Record{st.event(time.Now())}); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, b.N)
}

// BenchmarkAppend64Writers: 64 goroutines, one event per append, each on its
// own stream; their appends share syncs through group commit.
func BenchmarkAppend64Writers(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		st := newBenchStudent()
		ev := make([]eventstore.Record, 1)
		for v := int64(0); pb.Next(); v++ {
			ev[0] = st.event(time.Now())
			if _, err := s.Append(ctx, st.stream, v, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportEvents(b, b.N)
}

// BenchmarkAppend64WritersBatch8: 64 goroutines, eight events per append
// (an autosave batch), each on its own stream. One op is one append.
func BenchmarkAppend64WritersBatch8(b *testing.B) {
	const batch = 8
	s := openBench(b)
	ctx := context.Background()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		st := newBenchStudent()
		evs := make([]eventstore.Record, batch)
		for v := int64(0); pb.Next(); v += batch {
			now := time.Now()
			for j := range evs {
				evs[j] = st.event(now)
			}
			if _, err := s.Append(ctx, st.stream, v, evs); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportEvents(b, b.N*batch)
}

func BenchmarkAppendBatch1000(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	st := newBenchStudent()
	evs := make([]eventstore.Record, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		now := time.Now()
		for j := range evs {
			evs[j] = st.event(now)
		}
		if _, err := s.Append(ctx, st.stream, int64(i*len(evs)), evs); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, b.N*len(evs))
}

func fill(b *testing.B, s *Store, stream string, n int) {
	b.Helper()
	st := newBenchStudent()
	now := time.Now()
	evs := make([]eventstore.Record, n)
	for i := range evs {
		evs[i] = st.event(now)
	}
	if _, err := s.Append(context.Background(), stream, eventstore.NoStream, evs); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkLoad100(b *testing.B) {
	s := openBench(b)
	fill(b, s, "attempt-bench-load", 100)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		recs, err := s.Load(ctx, "attempt-bench-load", 1)
		if err != nil || len(recs) != 100 {
			b.Fatal(len(recs), err)
		}
	}
	reportEvents(b, b.N*100)
}

func BenchmarkReadAll1000(b *testing.B) {
	s := openBench(b)
	fill(b, s, "attempt-bench-readall", 1000)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		recs, err := s.ReadAll(ctx, 0, 1000)
		if err != nil || len(recs) != 1000 {
			b.Fatal(len(recs), err)
		}
	}
	reportEvents(b, b.N*1000)
}

// fillExam appends rounds events to each of students attempt streams of one
// exam, round by round with the students appending concurrently, so that the
// streams interleave in the log as they do during an exam.
func fillExam(b *testing.B, s *Store, students, rounds int) []benchStudent {
	b.Helper()
	sts := make([]benchStudent, students)
	for i := range sts {
		sts[i] = newBenchStudent()
	}
	ctx := context.Background()
	for round := range rounds {
		var wg sync.WaitGroup
		for _, st := range sts {
			wg.Go(func() {
				if _, err := s.Append(ctx, st.stream, int64(round), []eventstore.Record{st.event(time.Now())}); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	return sts
}

// BenchmarkQueryExamTag pages through an exam's 5000 events (200 attempt
// streams) by its tag, 500 at a time, as the audit API does.
func BenchmarkQueryExamTag(b *testing.B) { benchQueryExamTag(b, 500) }

// BenchmarkQueryExamTagReplay: the same in pages of 5000, as grading
// replays an exam.
func BenchmarkQueryExamTagReplay(b *testing.B) { benchQueryExamTag(b, 5000) }

func benchQueryExamTag(b *testing.B, page int) {
	s := openBench(b)
	sts := fillExam(b, s, 200, 25)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for range b.N {
		var after uint64
		for {
			recs, err := s.Query(ctx, eventstore.Filter{Tags: sts[0].tags[:1], AfterPosition: after, Limit: page})
			if err != nil {
				b.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			n += len(recs)
			after = recs[len(recs)-1].Position
		}
	}
	if n != b.N*5000 {
		b.Fatalf("read %d events, want %d", n, b.N*5000)
	}
	reportEvents(b, n)
}

// BenchmarkQueryExamStudent: one student's events of an exam (its tag and
// the student's tag), among 200 students.
func BenchmarkQueryExamStudent(b *testing.B) {
	s := openBench(b)
	sts := fillExam(b, s, 200, 25)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		st := sts[i%len(sts)]
		recs, err := s.Query(ctx, eventstore.Filter{Tags: st.tags})
		if err != nil || len(recs) != 25 {
			b.Fatal(len(recs), err)
		}
	}
	reportEvents(b, b.N*25)
}

// BenchmarkQueryActor: one student's events by actor, among 200 students.
func BenchmarkQueryActor(b *testing.B) {
	s := openBench(b)
	sts := fillExam(b, s, 200, 25)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		st := sts[i%len(sts)]
		recs, err := s.Query(ctx, eventstore.Filter{ActorID: st.actor})
		if err != nil || len(recs) != 25 {
			b.Fatal(len(recs), err)
		}
	}
	reportEvents(b, b.N*25)
}
