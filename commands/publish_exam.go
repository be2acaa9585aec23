package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// PublishExamHandler opens a draft now, or schedules it for opens_at.
type PublishExamHandler struct{ handlerBase }

func (h *PublishExamHandler) Handle(ctx context.Context, m Meta, examID string) (ExamResult, error) {
	return h.mutateExam(ctx, m, examID, func(e *domain.Exam, now time.Time) ([]domain.Event, error) {
		return e.Publish(m.Actor, now)
	})
}
