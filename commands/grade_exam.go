package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// GradeExamHandler grades or regrades an exam by replaying its events: it
// folds the exam and every attempt from the store, scores them with the
// answer key in force, and appends one grade.attempt_scored.v1 per new or
// changed score plus the exam.graded.v1 marker. The grader projection, the
// regrade endpoint and answer-key corrections all come through here; a dry
// run computes the same diff and appends nothing.
type GradeExamHandler struct{ handlerBase }

// GradeResult is the outcome of a grading round.
type GradeResult struct {
	DryRun    bool
	Round     int
	Changed   []domain.ScoreChange
	Unchanged int
	Attempts  int
	Position  uint64
}

// replayPageSize is how many events one store query returns while replaying.
const replayPageSize = 5000

// Handle grades examID. Staff callers must manage the exam; the exam must
// be closed or graded (ErrNotGraded otherwise).
func (h *GradeExamHandler) Handle(ctx context.Context, m Meta, examID, trigger string, dryRun bool) (GradeResult, error) {
	var out GradeResult
	err := retryOnConflict(ctx, func() error {
		r, err := h.grade(ctx, m, examID, trigger, dryRun)
		out = r
		return err
	})
	return out, err
}

func (h *GradeExamHandler) grade(ctx context.Context, m Meta, examID, trigger string, dryRun bool) (GradeResult, error) {
	e, err := h.repo.LoadExam(ctx, examID)
	if err != nil {
		return GradeResult{}, err
	}
	if err := e.CanGrade(m.Actor); err != nil {
		return GradeResult{}, err
	}
	attempts, recorded, gradesVersion, err := h.replayExam(ctx, examID)
	if err != nil {
		return GradeResult{}, err
	}
	now := h.now()
	grades := domain.GradeExam(e, attempts)
	plan := domain.PlanGrading(e, grades, recorded, trigger, now)
	plan.RecordedOnto(gradesVersion)
	out := GradeResult{DryRun: dryRun, Round: e.GradeRound + 1, Changed: plan.Changed, Unchanged: plan.Unchanged, Attempts: len(grades)}
	if dryRun {
		out.Round = e.GradeRound
		return out, nil
	}
	// Event ids derive from the exam, its version and the round, so two
	// graders racing on the same closed exam append one set of grades.
	gm := m
	gm.IdempotencyKey = fmt.Sprintf("grade|%s|%d|%d", examID, e.Version, out.Round)
	if len(plan.Scores) > 0 {
		res, err := h.w.append(ctx, gm, domain.GradesStream(examID), gradesVersion, now, plan.Scores)
		if err != nil {
			return GradeResult{}, err
		}
		out.Position = res.LastPosition
	}
	res, err := h.w.append(ctx, gm, domain.ExamStream(examID), e.Version, now, []domain.Event{plan.Graded})
	if err != nil {
		return GradeResult{}, err
	}
	out.Position = max(out.Position, res.LastPosition)
	return out, nil
}

// ReplayAttempts folds every started attempt of the exam from the store,
// exactly as grading does: what the regrade preview grades under the key in
// force and under a corrected one.
func (h *GradeExamHandler) ReplayAttempts(ctx context.Context, examID string) ([]*domain.Attempt, error) {
	attempts, _, _, err := h.replayExam(ctx, examID)
	return attempts, err
}

// replayExam reads every event tagged with the exam and folds the attempts
// and the scores recorded so far (student → latest computed score).
func (h handlerBase) replayExam(ctx context.Context, examID string) ([]*domain.Attempt, map[string]float64, int64, error) {
	byStream := map[string]*domain.Attempt{}
	var order []*domain.Attempt
	recorded := map[string]float64{}
	var gradesVersion int64
	gradesStream := domain.GradesStream(examID)
	var after uint64
	for {
		recs, err := h.w.store.Query(ctx, eventstore.Filter{Tags: []string{domain.ExamTag(examID)}, AfterPosition: after, Limit: replayPageSize})
		if err != nil {
			return nil, nil, 0, fmt.Errorf("replay exam %s: %w", examID, err)
		}
		for _, rec := range recs {
			switch eventstore.Category(rec.StreamID) {
			case domain.CategoryAttempt:
				data, err := domain.DecodeEvent(rec.Type, rec.Data)
				if errors.Is(err, domain.ErrUnknownEventType) {
					continue
				} else if err != nil {
					return nil, nil, 0, err
				}
				t := byStream[rec.StreamID]
				if t == nil {
					t = &domain.Attempt{}
					byStream[rec.StreamID] = t
					order = append(order, t)
				}
				t.Apply(rec.Version, data)
			case domain.CategoryGrades:
				if rec.StreamID != gradesStream {
					continue
				}
				gradesVersion = rec.Version
				if rec.Type == domain.TypeAttemptScored {
					data, err := domain.DecodeEvent(rec.Type, rec.Data)
					if err != nil {
						return nil, nil, 0, err
					}
					s := data.(*domain.AttemptScored)
					recorded[s.StudentID] = s.Score
				}
			}
		}
		if len(recs) < replayPageSize {
			break
		}
		after = recs[len(recs)-1].Position
	}
	attempts := order[:0]
	for _, t := range order {
		if t.Started() {
			attempts = append(attempts, t)
		}
	}
	return attempts, recorded, gradesVersion, nil
}
