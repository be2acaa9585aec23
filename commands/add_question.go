package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// AddQuestionHandler adds a question to a draft.
type AddQuestionHandler struct{ handlerBase }

func (h *AddQuestionHandler) Handle(ctx context.Context, m Meta, examID string, in domain.QuestionInput) (ExamResult, domain.Question, error) {
	if err := requireImages(ctx, h.repo, []domain.QuestionInput{in}, imageField); err != nil {
		return ExamResult{}, domain.Question{}, err
	}
	var q domain.Question
	res, err := h.mutateExam(ctx, m, examID, func(e *domain.Exam, _ time.Time) ([]domain.Event, error) {
		events, added, err := e.AddQuestion(m.Actor, in, h.newID)
		q = added
		return events, err
	})
	return res, q, err
}
