package commands

import (
	"context"
	"time"

	"github.com/examhall/exam/domain"
)

// ScheduleTickHandler opens a scheduled exam whose opens_at has come and
// closes one whose closes_at has passed. It decides from the exam's own
// stream, so several schedulers racing on one exam append at most once.
type ScheduleTickHandler struct{ handlerBase }

func (h *ScheduleTickHandler) Handle(ctx context.Context, examID string) (ExamResult, error) {
	m := Meta{Actor: domain.SystemActor("scheduler")}
	return h.mutateExam(ctx, m, examID, func(e *domain.Exam, now time.Time) ([]domain.Event, error) {
		events := e.OpenIfDue(now)
		if len(events) > 0 {
			// Fold the opening first: an exam whose window already passed
			// opens and closes in one append.
			probe := *e
			applyAll(&probe, e.Version+1, events)
			return append(events, probe.CloseIfDue(now)...), nil
		}
		return e.CloseIfDue(now), nil
	})
}
