package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// CloseExamHandler closes an exam by hand ("mark for solving"); the grader
// reacts to the close. Closing a closed exam changes nothing.
type CloseExamHandler struct{ handlerBase }

func (h *CloseExamHandler) Handle(ctx context.Context, m Meta, examID string) (ExamResult, error) {
	return h.mutateExam(ctx, m, examID, func(e *domain.Exam, now time.Time) ([]domain.Event, error) {
		return e.Close(m.Actor, now, "manual")
	})
}
