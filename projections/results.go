package projections

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// ResultRow is one student's degree in one exam.
type ResultRow struct {
	ExamID     string
	StudentID  string
	AttemptID  string
	Score      float64
	MaxScore   float64
	Answered   int
	Round      int
	GradedAt   time.Time
	Questions  []domain.QuestionScore
	Overridden bool
}

// Results is the degrees read model: the latest score per student and
// exam, from grade events (computed scores and manual overrides).
type Results struct {
	applied StreamVersions

	mu        sync.RWMutex
	byExam    map[string]map[string]*ResultRow
	byStudent map[string]map[string]*ResultRow
}

// NewResults returns an empty results model.
func NewResults() *Results {
	return &Results{byExam: map[string]map[string]*ResultRow{}, byStudent: map[string]map[string]*ResultRow{}}
}

func (r *Results) Name() string { return "results" }

// Categories: the streams this read model is built from.
func (r *Results) Categories() []string { return []string{domain.CategoryGrades} }

// Apply folds each grade record not applied yet.
func (r *Results) Apply(_ context.Context, batch []Delivered) error {
	for _, d := range batch {
		if r.applied.Claim(d.Record) {
			r.apply(d.Record, d.Data)
		}
	}
	return nil
}

func (r *Results) apply(rec eventstore.Record, data any) {
	if data == nil || eventstore.Category(rec.StreamID) != domain.CategoryGrades {
		return
	}
	examID := domain.StreamEntity(rec.StreamID)
	r.mu.Lock()
	defer r.mu.Unlock()
	student, _ := GradedStudent(data)
	row, ok := FoldResult(examID, r.byExam[examID][student], data)
	if ok {
		r.put(row)
	}
}

// GradedStudent names the student a grade event is about; false for an
// event of the grades stream that is about no one student. Shared by every
// results read model, with FoldResult.
func GradedStudent(data any) (string, bool) {
	switch d := data.(type) {
	case *domain.AttemptScored:
		return d.StudentID, true
	case *domain.ScoreOverridden:
		return d.StudentID, true
	}
	return "", false
}

// FoldResult folds one grade event of an exam's stream into the student's
// current row (nil when there is none) and returns the new row, or false
// when the event changes no row. It never modifies cur: readers may hold
// it. Shared by every results read model, in memory or durable, so they
// agree: a computed score replaces the row; an override keeps the attempt's
// fields and sets score, maximum and time.
func FoldResult(examID string, cur *ResultRow, data any) (*ResultRow, bool) {
	switch d := data.(type) {
	case *domain.AttemptScored:
		return &ResultRow{ExamID: examID, StudentID: d.StudentID, AttemptID: d.AttemptID, Score: d.Score, MaxScore: d.MaxScore,
			Answered: d.Answered, Round: d.Round, GradedAt: d.GradedAt, Questions: d.Questions}, true
	case *domain.ScoreOverridden:
		row := &ResultRow{ExamID: examID, StudentID: d.StudentID}
		if cur != nil {
			cp := *cur
			row = &cp
		}
		row.Score, row.MaxScore, row.GradedAt, row.Overridden = d.Score, d.MaxScore, d.OverriddenAt, true
		return row, true
	}
	return nil, false
}

func (r *Results) put(row *ResultRow) {
	if r.byExam[row.ExamID] == nil {
		r.byExam[row.ExamID] = map[string]*ResultRow{}
	}
	if r.byStudent[row.StudentID] == nil {
		r.byStudent[row.StudentID] = map[string]*ResultRow{}
	}
	r.byExam[row.ExamID][row.StudentID] = row
	r.byStudent[row.StudentID][row.ExamID] = row
}

// GradesApplied is the version of the exam's grades stream applied so far.
func (r *Results) GradesApplied(examID string) int64 {
	return r.applied.Version(domain.GradesStream(examID))
}

// ExamResults lists an exam's results ordered by student id.
func (r *Results) ExamResults(examID string) []ResultRow {
	r.mu.RLock()
	out := make([]ResultRow, 0, len(r.byExam[examID]))
	for _, row := range r.byExam[examID] {
		out = append(out, *row)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].StudentID < out[j].StudentID })
	return out
}

// StudentResult returns one student's result in one exam.
func (r *Results) StudentResult(examID, studentID string) (ResultRow, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	row, ok := r.byExam[examID][studentID]
	if !ok {
		return ResultRow{}, false
	}
	return *row, true
}

// StudentResults lists a student's results across exams, newest first.
func (r *Results) StudentResults(studentID string) []ResultRow {
	r.mu.RLock()
	out := make([]ResultRow, 0, len(r.byStudent[studentID]))
	for _, row := range r.byStudent[studentID] {
		out = append(out, *row)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].GradedAt.After(out[j].GradedAt) })
	return out
}
