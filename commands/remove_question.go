package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// RemoveQuestionHandler deletes one question of a draft.
type RemoveQuestionHandler struct{ handlerBase }

func (h *RemoveQuestionHandler) Handle(ctx context.Context, m Meta, examID, questionID string) (ExamResult, error) {
	return h.mutateExam(ctx, m, examID, func(e *domain.Exam, _ time.Time) ([]domain.Event, error) {
		return e.RemoveQuestion(m.Actor, questionID)
	})
}
