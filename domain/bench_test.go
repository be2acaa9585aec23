package domain

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Benchmarks of the two hot paths of grading: scoring folded attempts, and
// folding stored answer events (decode + Apply), which a regrade replays for
// every attempt of an exam. Run with
//
//	go test -run '^$' -bench . -benchmem ./domain

func fakeUUID(r *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, 0x8000|r.Uint32()&0x3fff, r.Uint64()&0xffffffffffff)
}

// benchExam publishes an exam of n questions mixing the three kinds, with
// some negative marking, open from t0 until t0+3h with a 90-minute limit.
func benchExam(b *testing.B, r *rand.Rand, n int) *Exam {
	b.Helper()
	in := ExamDraftInput{Title: "Benchmark", LevelID: levelID, ClosesAt: ptr(t0.Add(3 * time.Hour)), TimeLimitSeconds: 90 * 60}
	for i := 0; i < n; i++ {
		q := QuestionInput{ID: fakeUUID(r), Text: fmt.Sprintf("Question %d", i+1)}
		switch i % 5 {
		case 0, 1:
			q.Kind = KindSingle
			q.Choices = abc("w", "x", "y", "z")
			q.Correct = []string{string(rune('a' + r.IntN(4)))}
			q.Points = ptr(float64(1 + i%2))
			if i%3 == 0 {
				q.NegativePoints = ptr(0.25)
			}
		case 2, 3:
			q.Kind = KindMultiple
			q.Choices = abc("v", "w", "x", "y", "z")
			perm := r.Perm(5)
			for _, k := range perm[:2+r.IntN(2)] {
				q.Correct = append(q.Correct, string(rune('a'+k)))
			}
			q.Points = ptr(float64(2 + i%2))
			if i%4 == 2 {
				q.NegativePoints = ptr(1.0)
			}
		default:
			q.Kind = KindTrueFalse
			q.Correct = []string{[]string{"true", "false"}[r.IntN(2)]}
			if i%2 == 0 {
				q.NegativePoints = ptr(0.5)
			}
		}
		in.Questions = append(in.Questions, q)
	}
	evs, err := DraftExam(fakeUUID(r), owner, in, func() string { return fakeUUID(r) }, t0.Add(-time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	e := &Exam{}
	foldExam(b, e, evs...)
	if evs, err = e.Publish(owner, t0); err != nil {
		b.Fatal(err)
	}
	foldExam(b, e, evs...)
	return e
}

// benchAnswer picks a plausible answer: right 60% of the time, otherwise a
// random valid one.
func benchAnswer(r *rand.Rand, q Question) []string {
	if r.Float64() < 0.6 {
		return append([]string(nil), q.Correct...)
	}
	if q.Kind != KindMultiple {
		return []string{q.Choices[r.IntN(len(q.Choices))].Key}
	}
	perm := r.Perm(len(q.Choices))
	out := make([]string, 0, 3)
	for _, k := range perm[:1+r.IntN(3)] {
		out = append(out, q.Choices[k].Key)
	}
	return out
}

// benchAttempts folds n attempts: each student answers ~90% of the
// questions, changes their mind on ~20%, clears ~3%, lets ~2% slip in after
// the deadline, and ~70% submit.
func benchAttempts(r *rand.Rand, e *Exam, n int) []*Attempt {
	out := make([]*Attempt, 0, n)
	for i := 0; i < n; i++ {
		attemptID, studentID := fakeUUID(r), fakeUUID(r)
		start := t0.Add(time.Duration(r.IntN(3600)) * time.Second)
		deadline := AttemptDeadline(e, start)
		a := &Attempt{}
		v := int64(1)
		a.Apply(v, &AttemptStarted{AttemptID: attemptID, ExamID: e.ID, StudentID: studentID, StartedAt: start, Deadline: deadline})
		clock := start
		save := func(q Question, choices []string, at time.Time) {
			v++
			a.Apply(v, &AnswerSaved{AttemptID: attemptID, ExamID: e.ID, StudentID: studentID, QuestionID: q.ID, Choices: choices, SavedAt: at})
		}
		for _, q := range e.Questions {
			if r.Float64() >= 0.9 {
				continue
			}
			clock = clock.Add(time.Duration(20+r.IntN(60)) * time.Second)
			save(q, benchAnswer(r, q), clock)
			switch p := r.Float64(); {
			case p < 0.20:
				save(q, benchAnswer(r, q), clock.Add(time.Duration(1+r.IntN(600))*time.Second))
			case p < 0.23:
				save(q, []string{}, clock.Add(time.Second))
			case p < 0.25:
				save(q, benchAnswer(r, q), deadline.Add(time.Second))
			}
		}
		if r.Float64() < 0.7 {
			v++
			a.Apply(v, &AttemptSubmitted{AttemptID: attemptID, ExamID: e.ID, StudentID: studentID, SubmittedAt: clock.Add(time.Minute)})
		}
		out = append(out, a)
	}
	return out
}

func BenchmarkGradeExam10kAttempts50Questions(b *testing.B) {
	const attempts, questions = 10_000, 50
	r := rand.New(rand.NewPCG(1, 2))
	e := benchExam(b, r, questions)
	folded := benchAttempts(r, e, attempts)
	e.Apply(e.Version+1, &ExamClosed{ExamID: e.ID, ClosedAt: *e.ClosesAt, Reason: "schedule"})
	now := e.ClosesAt.Add(time.Minute)

	b.ReportAllocs()
	b.ResetTimer()
	rounds := 0
	var plan GradingPlan
	for b.Loop() {
		grades := GradeExam(e, folded)
		plan = PlanGrading(e, grades, nil, "close", now)
		rounds++
	}
	b.ReportMetric(float64(rounds*attempts)/b.Elapsed().Seconds(), "attempts/s")
	if len(plan.Scores) != attempts {
		b.Fatalf("plan recorded %d attempts, want %d", len(plan.Scores), attempts)
	}
}

// foldBench is the input of the fold benchmarks: attempt streams of answer
// events, pre-encoded as they come back from the store.
type foldBench struct {
	started []*AttemptStarted
	encoded [][][]byte // per attempt, answer_saved payloads in stream order
	decoded [][]any
	events  int
}

func newFoldBench(b *testing.B) *foldBench {
	const attempts, answersPerAttempt = 20, 100
	r := rand.New(rand.NewPCG(3, 4))
	examID := fakeUUID(r)
	questions := make([]string, 50)
	for i := range questions {
		questions[i] = fakeUUID(r)
	}
	fb := &foldBench{}
	for i := 0; i < attempts; i++ {
		attemptID, studentID := fakeUUID(r), fakeUUID(r)
		start := t0.Add(time.Duration(r.IntN(3600)) * time.Second)
		fb.started = append(fb.started, &AttemptStarted{AttemptID: attemptID, ExamID: examID, StudentID: studentID, StartedAt: start, Deadline: ptr(start.Add(90 * time.Minute))})
		var enc [][]byte
		var dec []any
		for j := 0; j < answersPerAttempt; j++ {
			choices := []string{string(rune('a' + r.IntN(4)))}
			if j%4 == 2 {
				choices = append(choices, string(rune('a'+4)))
			}
			p := &AnswerSaved{AttemptID: attemptID, ExamID: examID, StudentID: studentID, QuestionID: questions[j%len(questions)],
				Choices: choices, SavedAt: start.Add(time.Duration(j*37)*time.Second + time.Duration(r.IntN(1e9)))}
			data, err := json.Marshal(p)
			if err != nil {
				b.Fatal(err)
			}
			enc = append(enc, data)
			dec = append(dec, p)
			fb.events++
		}
		fb.encoded = append(fb.encoded, enc)
		fb.decoded = append(fb.decoded, dec)
	}
	return fb
}

func (fb *foldBench) report(b *testing.B, rounds int) {
	b.ReportMetric(float64(rounds*fb.events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rounds*fb.events), "ns/event")
}

// BenchmarkFoldAttemptEvents: decode + Apply of answer_saved events, the
// per-event work of a regrade replay. Target ≥ 1M events/s.
func BenchmarkFoldAttemptEvents(b *testing.B) {
	fb := newFoldBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	rounds := 0
	for b.Loop() {
		for i, stream := range fb.encoded {
			a := &Attempt{}
			a.Apply(1, fb.started[i])
			for j, data := range stream {
				p, err := DecodeEvent(TypeAnswerSaved, data)
				if err != nil {
					b.Fatal(err)
				}
				a.Apply(int64(j+2), p)
			}
			if len(a.History) != len(stream) {
				b.Fatalf("folded %d answers, want %d", len(a.History), len(stream))
			}
		}
		rounds++
	}
	fb.report(b, rounds)
}

// BenchmarkFoldAttemptEventsDecodeOnly isolates the JSON decoding share of
// BenchmarkFoldAttemptEvents.
func BenchmarkFoldAttemptEventsDecodeOnly(b *testing.B) {
	fb := newFoldBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	rounds := 0
	for b.Loop() {
		for _, stream := range fb.encoded {
			for _, data := range stream {
				if _, err := DecodeEvent(TypeAnswerSaved, data); err != nil {
					b.Fatal(err)
				}
			}
		}
		rounds++
	}
	fb.report(b, rounds)
}

// BenchmarkFoldAttemptEventsApplyOnly isolates the Apply share: payloads
// already decoded.
func BenchmarkFoldAttemptEventsApplyOnly(b *testing.B) {
	fb := newFoldBench(b)
	b.ReportAllocs()
	b.ResetTimer()
	rounds := 0
	for b.Loop() {
		for i, stream := range fb.decoded {
			a := &Attempt{}
			a.Apply(1, fb.started[i])
			for j, p := range stream {
				a.Apply(int64(j+2), p)
			}
		}
		rounds++
	}
	fb.report(b, rounds)
}
