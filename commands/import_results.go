package commands

import (
	"context"

	"github.com/examhall/exam/domain"
)

// ImportResultsHandler records an imported results file (rows of email and
// score) as manual overrides: one grade.score_overridden.v1 (source
// "import", with the previous score) per row whose score differs from the
// score in force, all in one append to the exam's grades stream at the
// version the scores were read at. The file is validated as a whole
// (domain.PlanScoreImport): any bad row rejects it and nothing is recorded.
// Only on a graded exam, by staff who manage it.
//
// Imported counts the rows accepted, not the overrides recorded: a client
// uploading a file of n rows is told all n were taken, including rows that
// already held the score (an exported file imported back unchanged answers
// {"imported": n} and records nothing). Recorded counts the overrides, so
// the client also sees what changed.
type ImportResultsHandler struct{ handlerBase }

// ImportResult is the outcome of an import.
type ImportResult struct {
	Imported int
	Recorded int
	Position uint64
}

func (h *ImportResultsHandler) Handle(ctx context.Context, m Meta, examID string, rows []domain.ScoreImportRow) (ImportResult, error) {
	e, err := h.repo.LoadExam(ctx, examID)
	if err != nil {
		return ImportResult{}, err
	}
	if err := e.CanImportScores(m.Actor); err != nil {
		return ImportResult{}, err
	}
	users, err := h.usersByEmail(ctx, rows)
	if err != nil {
		return ImportResult{}, err
	}
	stream := domain.GradesStream(examID)
	unlock := h.locks.lock(stream)
	defer unlock()
	var out ImportResult
	err = retryOnConflict(ctx, func() error {
		e, err := h.repo.LoadExam(ctx, examID)
		if err != nil {
			return err
		}
		book, err := h.repo.LoadGradebook(ctx, examID)
		if err != nil {
			return err
		}
		now := h.now()
		plan, err := domain.PlanScoreImport(e, m.Actor, rows, users, book.Scores, now)
		if err != nil {
			return err
		}
		out = ImportResult{Imported: plan.Accepted, Recorded: len(plan.Events)}
		if len(plan.Events) == 0 {
			return nil
		}
		res, err := h.w.append(ctx, m, stream, book.Version, now, plan.Events)
		if err != nil {
			return err
		}
		out.Position = res.LastPosition
		return nil
	})
	return out, err
}

// usersByEmail resolves each distinct email of the rows (through its
// reservation stream, the write side's own index of addresses); an address
// no user holds maps to nil.
func (h *ImportResultsHandler) usersByEmail(ctx context.Context, rows []domain.ScoreImportRow) (map[string]*domain.User, error) {
	out := make(map[string]*domain.User, len(rows))
	for _, r := range rows {
		email := domain.NormalizeEmail(r.Email)
		if _, done := out[email]; done || email == "" {
			continue
		}
		u, err := h.repo.LoadUserByEmail(ctx, email)
		if err != nil {
			return nil, err
		}
		out[email] = u
	}
	return out, nil
}
