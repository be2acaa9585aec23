package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// ReplaceExamHandler replaces a draft's content (PUT /exams/{id}).
type ReplaceExamHandler struct{ handlerBase }

func (h *ReplaceExamHandler) Handle(ctx context.Context, m Meta, examID string, in domain.ExamDraftInput) (ExamResult, error) {
	if err := requireLevel(ctx, h.repo, in.LevelID); err != nil {
		return ExamResult{}, err
	}
	if err := requireImages(ctx, h.repo, in.Questions, questionImageField); err != nil {
		return ExamResult{}, err
	}
	return h.mutateExam(ctx, m, examID, func(e *domain.Exam, _ time.Time) ([]domain.Event, error) {
		return e.Replace(m.Actor, in, h.newID)
	})
}
