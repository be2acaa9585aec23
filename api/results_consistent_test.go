package api

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
)

// laggingReads is a read side whose results model (the real in-process
// one) is fed by the test, as a projector that is behind would feed it.
type laggingReads struct {
	mu      sync.Mutex
	exam    *domain.Exam // the catalogue's copy
	results *projections.Results
}

func (l *laggingReads) Exam(context.Context, string) (*domain.Exam, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.exam, true, nil
}

func (l *laggingReads) ExamResults(_ context.Context, id string) ([]projections.ResultRow, error) {
	return l.results.ExamResults(id), nil
}

func (l *laggingReads) GradesApplied(_ context.Context, id string) (int64, error) {
	return l.results.GradesApplied(id), nil
}

// score applies grade event number version of the exam's grades stream.
func (l *laggingReads) score(t *testing.T, examID string, version int64, student string, round int, score float64) {
	t.Helper()
	rec := eventstore.Record{StreamID: domain.GradesStream(examID), Version: version, Type: domain.TypeAttemptScored}
	data := &domain.AttemptScored{ExamID: examID, StudentID: student, AttemptID: "a-" + student, Round: round, Score: score, MaxScore: 10}
	if err := l.results.Apply(t.Context(), []projections.Delivered{{Record: rec, Data: data}}); err != nil {
		t.Fatal(err)
	}
}

func gradedExam(id string, round int, gradesVersion, version int64) *domain.Exam {
	return &domain.Exam{ID: id, Status: domain.StatusGraded, GradeRound: round, GradesVersion: gradesVersion, Version: version}
}

// The exam's stream says graded with three scores, the results model has
// applied two: the table must wait for the third, never list two.
func TestConsistentResultsWaitForTheWholeRound(t *testing.T) {
	const id = "exam-1"
	e := gradedExam(id, 1, 3, 5)
	reads := &laggingReads{exam: e, results: projections.NewResults()}
	reads.score(t, id, 1, "s1", 1, 4)
	reads.score(t, id, 2, "s2", 1, 5)
	go func() {
		time.Sleep(50 * time.Millisecond)
		reads.score(t, id, 3, "s3", 1, 6)
	}()
	rows, _, err := ConsistentResults(t.Context(), reads, nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("a graded exam of 3 attempts listed %d rows", len(rows))
	}
}

// A regrade half applied: round 2 has rescored s1 in the results model,
// but the exam (as the request first read it) knows round 1 only. The
// table must not mix s1's new score with the others' old ones: it folds the
// exam again and waits for round 2 to be applied whole.
func TestConsistentResultsNeverMixRounds(t *testing.T) {
	const id = "exam-2"
	round1 := gradedExam(id, 1, 3, 5)
	reads := &laggingReads{exam: round1, results: projections.NewResults()}
	for i, s := range []string{"s1", "s2", "s3"} {
		reads.score(t, id, int64(i+1), s, 1, 1)
	}
	reads.score(t, id, 4, "s1", 2, 9) // round 2's first score
	round2 := gradedExam(id, 2, 5, 7)
	var loads int
	load := func(context.Context, string) (*domain.Exam, error) {
		loads++
		return round2, nil
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		reads.mu.Lock()
		reads.exam = round2
		reads.mu.Unlock()
		reads.score(t, id, 5, "s2", 2, 9)
	}()
	rows, e, err := ConsistentResults(t.Context(), reads, load, round1)
	if err != nil {
		t.Fatal(err)
	}
	if e.GradeRound != 2 || loads == 0 {
		t.Fatalf("served as of round %d after %d loads, want round 2", e.GradeRound, loads)
	}
	got := map[string]float64{}
	for _, r := range rows {
		got[r.StudentID] = r.Score
	}
	if want := map[string]float64{"s1": 9, "s2": 9, "s3": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("scores %v, want round 2's %v", got, want)
	}
}
