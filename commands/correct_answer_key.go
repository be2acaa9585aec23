package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// CorrectAnswerKeyHandler changes a question's answer key in any status; on
// a closed or graded exam the grader regrades when it sees the event.
type CorrectAnswerKeyHandler struct{ handlerBase }

func (h *CorrectAnswerKeyHandler) Handle(ctx context.Context, m Meta, examID, questionID string, correct []string, points *float64) (ExamResult, error) {
	return h.mutateExam(ctx, m, examID, func(e *domain.Exam, _ time.Time) ([]domain.Event, error) {
		return e.CorrectAnswerKey(m.Actor, questionID, correct, points)
	})
}
