package commands

import (
	"context"

	"github.com/examhall/exam/domain"
)

// ExamStatsHandler computes an exam's item statistics (facility and
// discrimination per question, choice counts, the score distribution) by
// replaying its attempts the way grading does: final answers under the
// cut-off rule, scored with the answer key in force. A query: it appends
// nothing. Staff who manage the exam may ask once it is closed or graded
// (domain.ErrNotGraded before).
type ExamStatsHandler struct{ handlerBase }

func (h *ExamStatsHandler) Handle(ctx context.Context, m Meta, examID string) (domain.ExamStats, error) {
	e, err := h.repo.LoadExam(ctx, examID)
	if err != nil {
		return domain.ExamStats{}, err
	}
	if err := e.CanGrade(m.Actor); err != nil {
		return domain.ExamStats{}, err
	}
	attempts, _, _, err := h.replayExam(ctx, examID)
	if err != nil {
		return domain.ExamStats{}, err
	}
	return domain.ComputeExamStats(e, attempts), nil
}
