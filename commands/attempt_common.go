package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// AttemptResult is an attempt's state after a command.
type AttemptResult struct {
	Attempt  *domain.Attempt
	Exam     *domain.Exam
	Position uint64
	// Created is true when this command started the attempt.
	Created bool
	// Saved lists the answers this command recorded.
	Saved []domain.AnswerSaved
}

// mutateAttempt loads the exam and the actor's attempt, decides and appends
// to the attempt stream; answers never touch the exam stream, so thousands
// of students never contend with each other.
func (b handlerBase) mutateAttempt(ctx context.Context, m Meta, examID string,
	decide func(e *domain.Exam, t *domain.Attempt, attemptID string, now time.Time) ([]domain.Event, error)) (AttemptResult, error) {
	var out AttemptResult
	unlock := b.locks.lock(domain.AttemptStream(AttemptID(examID, m.Actor.ID)))
	defer unlock()
	err := retryOnConflict(ctx, func() error {
		e, err := b.repo.LoadExam(ctx, examID)
		if err != nil {
			return err
		}
		t, err := b.repo.LoadAttempt(ctx, examID, m.Actor.ID)
		if err != nil {
			return err
		}
		attemptID := AttemptID(examID, m.Actor.ID)
		now := b.now()
		events, err := decide(e, t, attemptID, now)
		if err != nil {
			return err
		}
		wasStarted := t.Started()
		res, err := b.w.append(ctx, m, domain.AttemptStream(attemptID), t.Version, now, events)
		if err != nil {
			return err
		}
		if res.Duplicate {
			if t, err = b.repo.LoadAttempt(ctx, examID, m.Actor.ID); err != nil {
				return err
			}
		} else {
			applyAll(t, res.FromVersion, events)
			if len(events) > 0 {
				// The next save of this student starts from here instead of
				// re-reading and decoding what was just written.
				b.repo.remember(domain.AttemptStream(attemptID), cloneAttempt(t), t.Version)
			}
		}
		out = AttemptResult{Attempt: t, Exam: e, Position: res.LastPosition, Created: !wasStarted && t.Started() && !res.Duplicate}
		for _, ev := range events {
			if s, ok := ev.Data.(*domain.AnswerSaved); ok {
				out.Saved = append(out.Saved, *s)
			}
		}
		return nil
	})
	return out, err
}
