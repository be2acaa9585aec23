package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// StartAttemptHandler starts the actor's attempt; starting again returns the
// same attempt with Created false.
type StartAttemptHandler struct{ handlerBase }

func (h *StartAttemptHandler) Handle(ctx context.Context, m Meta, examID string) (AttemptResult, error) {
	return h.mutateAttempt(ctx, m, examID, func(e *domain.Exam, t *domain.Attempt, attemptID string, now time.Time) ([]domain.Event, error) {
		return t.Start(e, m.Actor, attemptID, now)
	})
}
