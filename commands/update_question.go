package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// UpdateQuestionHandler replaces one question of a draft.
type UpdateQuestionHandler struct{ handlerBase }

func (h *UpdateQuestionHandler) Handle(ctx context.Context, m Meta, examID, questionID string, in domain.QuestionInput) (ExamResult, domain.Question, error) {
	if err := requireImages(ctx, h.repo, []domain.QuestionInput{in}, imageField); err != nil {
		return ExamResult{}, domain.Question{}, err
	}
	var q domain.Question
	res, err := h.mutateExam(ctx, m, examID, func(e *domain.Exam, _ time.Time) ([]domain.Event, error) {
		events, updated, err := e.UpdateQuestion(m.Actor, questionID, in, h.newID)
		q = updated
		return events, err
	})
	return res, q, err
}
