package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// SubmitAttemptHandler ends the actor's attempt; later answers are refused.
type SubmitAttemptHandler struct{ handlerBase }

func (h *SubmitAttemptHandler) Handle(ctx context.Context, m Meta, examID string) (AttemptResult, error) {
	return h.mutateAttempt(ctx, m, examID, func(e *domain.Exam, t *domain.Attempt, attemptID string, now time.Time) ([]domain.Event, error) {
		return t.Submit(e, m.Actor, attemptID, now)
	})
}
