package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// RemoveAccommodationHandler takes a student's accommodation away; their
// deadline is the exam's again at once.
type RemoveAccommodationHandler struct{ handlerBase }

func (h *RemoveAccommodationHandler) Handle(ctx context.Context, m Meta, examID, studentID string) (ExamResult, error) {
	student, err := h.repo.LoadUser(ctx, studentID)
	if err != nil {
		return ExamResult{}, err
	}
	return h.mutateExam(ctx, m, examID, func(e *domain.Exam, now time.Time) ([]domain.Event, error) {
		return e.RemoveAccommodation(m.Actor, student, now)
	})
}
