package projections

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// InMemory serves the API's reads from the in-process read models.
type InMemory struct {
	Catalog *Catalog
	Cache   *StudentExamCache
	Results *Results
}

func (m *InMemory) Exam(_ context.Context, id string) (*domain.Exam, bool, error) {
	e, ok := m.Catalog.Exam(id)
	return e, ok, nil
}

func (m *InMemory) ListExams(_ context.Context, f ExamFilter) ([]*domain.Exam, bool, error) {
	exams, more := m.Catalog.ListExams(f)
	return exams, more, nil
}

func (m *InMemory) Levels(context.Context) ([]domain.Level, error) { return m.Catalog.Levels(), nil }

func (m *InMemory) User(_ context.Context, id string) (*domain.User, bool, error) {
	u, ok := m.Catalog.User(id)
	return u, ok, nil
}

func (m *InMemory) ListUsers(_ context.Context, f UserFilter) ([]*domain.User, bool, error) {
	users, more := m.Catalog.ListUsers(f)
	return users, more, nil
}

func (m *InMemory) StudentExam(ctx context.Context, id string) (StudentDoc, bool, error) {
	return m.Cache.Get(ctx, id)
}

func (m *InMemory) ExamResults(_ context.Context, examID string) ([]ResultRow, error) {
	return m.Results.ExamResults(examID), nil
}

func (m *InMemory) GradesApplied(_ context.Context, examID string) (int64, error) {
	return m.Results.GradesApplied(examID), nil
}

func (m *InMemory) StudentResult(_ context.Context, examID, studentID string) (ResultRow, bool, error) {
	row, ok := m.Results.StudentResult(examID, studentID)
	return row, ok, nil
}

func (m *InMemory) StudentResults(_ context.Context, studentID string) ([]ResultRow, error) {
	return m.Results.StudentResults(studentID), nil
}

// DueExams lists exams due to open or close (the scheduler's question).
func (m *InMemory) DueExams(_ context.Context, now time.Time) ([]string, error) {
	return m.Catalog.DueExams(now), nil
}

// ExamsNeedingGrading lists closed exams not graded since their last change.
func (m *InMemory) ExamsNeedingGrading(context.Context) ([]string, error) {
	return m.Catalog.ExamsNeedingGrading(), nil
}
