package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// ExamResult is an exam's state after a command and where it was appended
// (Position 0 when the command decided nothing).
type ExamResult struct {
	Exam     *domain.Exam
	Position uint64
	// Changed is false when the command was a no-op (e.g. closing a closed exam).
	Changed bool
}

// mutateExam loads an exam, honours If-Match, lets decide produce events and
// appends them at the loaded version, deciding again after a lost race.
func (b handlerBase) mutateExam(ctx context.Context, m Meta, examID string, decide func(e *domain.Exam, now time.Time) ([]domain.Event, error)) (ExamResult, error) {
	var out ExamResult
	unlock := b.locks.lock(domain.ExamStream(examID))
	defer unlock()
	err := retryOnConflict(ctx, func() error {
		e, err := b.repo.LoadExam(ctx, examID)
		if err != nil {
			return err
		}
		if !e.Exists() {
			return domain.ErrNotFound
		}
		if m.IfMatch != nil && *m.IfMatch != e.Version {
			if !e.CanManage(m.Actor) {
				return domain.ErrForbidden
			}
			return domain.ErrPreconditionFailed
		}
		now := b.now()
		events, err := decide(e, now)
		if err != nil {
			return err
		}
		res, err := b.w.append(ctx, m, domain.ExamStream(examID), e.Version, now, events)
		if err != nil {
			return err
		}
		if res.Duplicate {
			// A retry of a command already stored: answer with the stored state.
			if e, err = b.repo.LoadExam(ctx, examID); err != nil {
				return err
			}
		} else {
			applyAll(e, res.FromVersion, events)
		}
		out = ExamResult{Exam: e, Position: res.LastPosition, Changed: len(events) > 0}
		return nil
	})
	return out, err
}
