package commands

import (
	"context"
	"fmt"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// DraftExamHandler creates a draft exam owned by the doctor (or admin) who
// sends it.
type DraftExamHandler struct{ handlerBase }

func (h *DraftExamHandler) Handle(ctx context.Context, m Meta, in domain.ExamDraftInput) (ExamResult, error) {
	if !m.Actor.IsStaff() {
		return ExamResult{}, domain.ErrForbidden
	}
	if err := requireLevel(ctx, h.repo, in.LevelID); err != nil {
		return ExamResult{}, err
	}
	if err := requireImages(ctx, h.repo, in.Questions, questionImageField); err != nil {
		return ExamResult{}, err
	}
	id := m.entityID(h.newID, "exam")
	now := h.now()
	events, err := domain.DraftExam(id, m.Actor, in, h.newID, now)
	if err != nil {
		return ExamResult{}, err
	}
	res, err := h.w.append(ctx, m, domain.ExamStream(id), eventstore.NoStream, now, events)
	if err != nil {
		return ExamResult{}, err
	}
	e := &domain.Exam{}
	if res.Duplicate {
		if e, err = h.repo.LoadExam(ctx, id); err != nil {
			return ExamResult{}, err
		}
	} else {
		applyAll(e, res.FromVersion, events)
	}
	return ExamResult{Exam: e, Position: res.LastPosition, Changed: true}, nil
}

// questionImageField names the image of the i-th question of a draft.
func questionImageField(i int) string { return fmt.Sprintf("questions[%d].image_id", i) }

// requireLevel reports a validation error when levelID names no level.
func requireLevel(ctx context.Context, repo *Repository, levelID string) error {
	if levelID == "" {
		return nil // the domain reports the missing field
	}
	_, ok, err := repo.LoadLevel(ctx, levelID)
	if err != nil {
		return err
	}
	if !ok {
		return domain.NewValidationError(map[string]string{"level_id": "no such level"})
	}
	return nil
}
