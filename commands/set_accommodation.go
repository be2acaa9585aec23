package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// SetAccommodationHandler gives a student of the exam's level their own
// time (extra seconds, a multiplier of the time limit), replacing any
// earlier accommodation. It is an exam event, so it applies at once to the
// student's attempt and to grading.
type SetAccommodationHandler struct{ handlerBase }

func (h *SetAccommodationHandler) Handle(ctx context.Context, m Meta, examID, studentID string, extraSeconds int, multiplier float64) (ExamResult, error) {
	student, err := h.repo.LoadUser(ctx, studentID)
	if err != nil {
		return ExamResult{}, err
	}
	return h.mutateExam(ctx, m, examID, func(e *domain.Exam, now time.Time) ([]domain.Event, error) {
		return e.SetAccommodation(m.Actor, student, extraSeconds, multiplier, now)
	})
}
