package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// ScheduleTickHandler opens a scheduled exam whose opens_at has come and
// closes one whose closes_at has passed — once no student with an
// accommodation may still work. It decides from the exam's own stream (and
// the attempts of its accommodated students), so several schedulers racing
// on one exam append at most once.
type ScheduleTickHandler struct{ handlerBase }

func (h *ScheduleTickHandler) Handle(ctx context.Context, examID string) (ExamResult, error) {
	m := Meta{Actor: domain.SystemActor("scheduler")}
	return h.mutateExam(ctx, m, examID, func(e *domain.Exam, now time.Time) ([]domain.Event, error) {
		events := e.OpenIfDue(now)
		probe := e
		if len(events) > 0 {
			// Fold the opening first: an exam whose window already passed
			// opens and closes in one append.
			p := *e
			applyAll(&p, e.Version+1, events)
			probe = &p
		}
		attempts, err := h.accommodatedAttempts(ctx, probe, now)
		if err != nil {
			return nil, err
		}
		return append(events, probe.CloseIfDueWith(now, attempts)...), nil
	})
}

// accommodatedAttempts loads the attempts of the students with an
// accommodation, only when the exam's closing time has passed (the only
// time the close needs them): a handful of streams, not the level's.
func (h *ScheduleTickHandler) accommodatedAttempts(ctx context.Context, e *domain.Exam, now time.Time) (map[string]*domain.Attempt, error) {
	if len(e.Accommodations) == 0 || e.ClosesAt == nil || now.Before(*e.ClosesAt) {
		return nil, nil
	}
	out := make(map[string]*domain.Attempt, len(e.Accommodations))
	for sid := range e.Accommodations {
		t, err := h.repo.LoadAttempt(ctx, e.ID, sid)
		if err != nil {
			return nil, err
		}
		out[sid] = t
	}
	return out, nil
}
