package api

import (
	"context"
	"sort"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
	"github.com/gin-gonic/gin"
)

// The results export and import as functions, so that the web admin offers
// exactly the API's files (columns, formats, validation) by calling them
// and the commands directly rather than replaying a request through HTTP.

// ResultsSource is what an export reads.
type ResultsSource interface {
	examReader
	ExamResults(ctx context.Context, examID string) ([]projections.ResultRow, error)
	// GradesApplied is the version of the exam's grades stream the results
	// read model has applied (0: none).
	GradesApplied(ctx context.Context, examID string) (int64, error)
}

// ExamLoader folds an exam from its own stream (the write side, current).
type ExamLoader func(ctx context.Context, id string) (*domain.Exam, error)

type examReader interface {
	Exam(ctx context.Context, id string) (*domain.Exam, bool, error)
}

// UserLookup finds a user by id; nil and no error when there is none.
type UserLookup func(ctx context.Context, id string) (*domain.User, error)

// WriteResultsExport writes a graded exam's results as the API's CSV or XLSX
// file (format "csv" or "xlsx"), waiting for the read models as the API
// does. An error is written nothing for: map it (ErrorFor).
func WriteResultsExport(c *gin.Context, reads ResultsSource, load ExamLoader, users UserLookup, e *domain.Exam, format string) error {
	items, e, err := resultItems(c.Request.Context(), reads, load, users, e)
	if err != nil {
		return err
	}
	writeResultsFile(c, e, items, format)
	return nil
}

// ParseScoreFile reads a results file (CSV or XLSX with email and score
// columns) as POST /exams/{id}/results/import does.
func ParseScoreFile(data []byte) ([]domain.ScoreImportRow, error) { return parseScoreFile(data) }

// resultItems lists an exam's results for staff, by email then student id,
// once the read models have caught up with e.
func resultItems(ctx context.Context, reads ResultsSource, load ExamLoader, users UserLookup, e *domain.Exam) ([]resultItemView, *domain.Exam, error) {
	rows, e, err := ConsistentResults(ctx, reads, load, e)
	if err != nil {
		return nil, nil, err
	}
	items := make([]resultItemView, 0, len(rows))
	for _, row := range rows {
		item := resultItemView{StudentID: row.StudentID, Score: row.Score, MaxScore: row.MaxScore,
			Percentage: percentage(row.Score, row.MaxScore), Answered: row.Answered, GradedAt: row.GradedAt.UTC(), Overridden: row.Overridden}
		if u, err := users(ctx, row.StudentID); err == nil && u != nil {
			item.Email, item.FullName = u.Email, u.FullName
		}
		items = append(items, item)
	}
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].Email != items[j].Email {
			return items[i].Email < items[j].Email
		}
		return items[i].StudentID < items[j].StudentID
	})
	return items, e, nil
}

func writeResultsFile(c *gin.Context, e *domain.Exam, items []resultItemView, format string) {
	if format == "xlsx" {
		writeResultsXLSX(c, e, items)
		return
	}
	writeResultsCSV(c, e, items)
}

// ConsistentResults lists a graded exam's results as they stand once the
// read side has caught up with e (folded from the exam's own stream): the
// catalogue has the exam's version, the results model has applied the
// grades stream up to the version at which the last grading round is
// complete (ExamGraded.GradesVersion), and no row belongs to a newer round
// than e knows (a regrade half applied) — so a table is never shorter than
// the graded exam's attempts and never mixes old and new scores. When a
// newer round shows, the exam is folded again (load) and the wait goes on.
// A read side that stays behind for readModelWait is ErrUnavailable (503).
// It returns the rows and the exam they are consistent with.
func ConsistentResults(ctx context.Context, reads ResultsSource, load ExamLoader, e *domain.Exam) ([]projections.ResultRow, *domain.Exam, error) {
	ctx, cancel := context.WithTimeout(ctx, readModelWait)
	defer cancel()
	for {
		rows, ok, err := resultsAsOf(ctx, reads, e)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			return rows, e, nil
		}
		if newerRound(rows, e) && load != nil {
			if fresh, err := load(ctx, e.ID); err == nil && fresh.Version > e.Version {
				e = fresh
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil, domain.ErrUnavailable
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// resultsAsOf reads the rows and reports whether they are the table as of
// e: the grades version is read before and after the rows, so rows read
// while the model moved are not taken for a consistent table.
func resultsAsOf(ctx context.Context, reads ResultsSource, e *domain.Exam) ([]projections.ResultRow, bool, error) {
	caught, before, err := caughtUp(ctx, reads, e)
	if err != nil || !caught {
		return nil, false, err
	}
	rows, err := reads.ExamResults(ctx, e.ID)
	if err != nil {
		return nil, false, err
	}
	after, err := reads.GradesApplied(ctx, e.ID)
	if err != nil {
		return nil, false, err
	}
	return rows, after == before && !newerRound(rows, e), nil
}

// caughtUp reports whether the catalogue has e's version and the results
// model e's grades, and the grades version it has applied.
func caughtUp(ctx context.Context, reads ResultsSource, e *domain.Exam) (bool, int64, error) {
	re, ok, err := reads.Exam(ctx, e.ID)
	if err != nil || !ok || re.Version < e.Version {
		return false, 0, err
	}
	applied, err := reads.GradesApplied(ctx, e.ID)
	if err != nil {
		return false, 0, err
	}
	return applied >= e.GradesVersion, applied, nil
}

// awaitGrades waits (at most readModelWait) until the read side has caught
// up with e, or answers ErrUnavailable.
func awaitGrades(ctx context.Context, reads ResultsSource, e *domain.Exam) error {
	ctx, cancel := context.WithTimeout(ctx, readModelWait)
	defer cancel()
	for {
		caught, _, err := caughtUp(ctx, reads, e)
		if err != nil || caught {
			return err
		}
		select {
		case <-ctx.Done():
			return domain.ErrUnavailable
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// newerRound reports whether a row was scored by a round e has not seen
// finish.
func newerRound(rows []projections.ResultRow, e *domain.Exam) bool {
	for _, r := range rows {
		if r.Round > e.GradeRound {
			return true
		}
	}
	return false
}
