package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// SaveAnswersHandler records one or many answers, all or nothing, starting
// the attempt if needed. The append is durable before it returns.
type SaveAnswersHandler struct{ handlerBase }

func (h *SaveAnswersHandler) Handle(ctx context.Context, m Meta, examID string, answers []domain.AnswerInput) (AttemptResult, error) {
	return h.mutateAttempt(ctx, m, examID, func(e *domain.Exam, t *domain.Attempt, attemptID string, now time.Time) ([]domain.Event, error) {
		return t.SaveAnswers(e, m.Actor, attemptID, answers, now)
	})
}
