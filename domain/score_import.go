package domain

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MaxImportRows bounds the data rows of one imported results file.
const MaxImportRows = 10_000

// ScoreImportRow is one data row of an imported results file, as written.
type ScoreImportRow struct {
	// Row is the row's number in the file as a spreadsheet shows it (the
	// header is row 1).
	Row   int
	Email string
	Score string
}

// RowProblem is one rejected row of an import.
type RowProblem struct {
	Row    int    `json:"row"`
	Email  string `json:"email"`
	Reason string `json:"reason"`
}

// RowsError rejects a whole import and lists every bad row. It matches
// ErrValidation with errors.Is.
type RowsError struct {
	Rows []RowProblem
}

func (e *RowsError) Error() string {
	if len(e.Rows) == 0 {
		return "validation failed: invalid rows"
	}
	return fmt.Sprintf("validation failed: %d invalid rows (first: row %d: %s)", len(e.Rows), e.Rows[0].Row, e.Rows[0].Reason)
}

// Is makes errors.Is(err, ErrValidation) true.
func (e *RowsError) Is(target error) bool { return target == ErrValidation }

// Gradebook is an exam's grades stream folded: the score in force per
// student, the latest computed score or manual override.
type Gradebook struct {
	Scores  map[string]float64
	Version int64
}

// Apply folds one event of a grades stream.
func (g *Gradebook) Apply(version int64, data any) {
	g.Version = version
	if g.Scores == nil {
		g.Scores = map[string]float64{}
	}
	switch d := data.(type) {
	case *AttemptScored:
		g.Scores[d.StudentID] = d.Score
	case *ScoreOverridden:
		g.Scores[d.StudentID] = d.Score
	}
}

// CanImportScores: the actor manages the exam and the exam is graded.
func (e *Exam) CanImportScores(a Actor) error {
	if err := e.requireManage(a); err != nil {
		return err
	}
	if e.Status != StatusGraded {
		return ErrNotGraded
	}
	return nil
}

// decimalNumber is a score as a person writes it: digits with an optional
// fraction and exponent (no hex, no underscores, no NaN or Inf).
var decimalNumber = regexp.MustCompile(`^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$`)

// ScoreImport is what an accepted import records.
type ScoreImport struct {
	// Accepted counts the data rows, all valid.
	Accepted int
	// Events holds one ScoreOverridden per row whose score differs from the
	// score in force.
	Events []Event
}

// PlanScoreImport validates a results file as a whole and decides the
// manual overrides it records. users holds the user each normalised email
// names (absent: no such user); current is the score in force per student
// (Gradebook.Scores). Every row must name a distinct student of the exam's
// level and a score between 0 and the exam's maximum; otherwise nothing is
// recorded and the *RowsError lists every bad row with its reasons.
// Scores are kept to 4 decimals, as grading keeps them.
func PlanScoreImport(e *Exam, a Actor, rows []ScoreImportRow, users map[string]*User, current map[string]float64, now time.Time) (ScoreImport, error) {
	if err := e.CanImportScores(a); err != nil {
		return ScoreImport{}, err
	}
	if len(rows) > MaxImportRows {
		return ScoreImport{}, NewValidationError(map[string]string{"file": fmt.Sprintf("has more than %d rows", MaxImportRows)})
	}
	maxScore := e.MaxScore()
	firstRow := make(map[string]int, len(rows))
	var problems []RowProblem
	var events []Event
	for _, r := range rows {
		var reasons []string
		email := NormalizeEmail(r.Email)
		u := users[email]
		first, dup := firstRow[email]
		switch {
		case email == "":
			reasons = append(reasons, "email is required")
		case dup:
			reasons = append(reasons, fmt.Sprintf("duplicate email (first on row %d)", first))
		case u == nil || !u.Exists():
			reasons = append(reasons, "no user has this email")
		case u.Role != RoleStudent || u.LevelID != e.LevelID:
			reasons = append(reasons, "not a student of the exam's level")
		default:
			firstRow[email] = r.Row
		}
		raw := strings.TrimSpace(r.Score)
		score, err := strconv.ParseFloat(raw, 64)
		switch {
		case raw == "":
			reasons = append(reasons, "score is required")
		case !decimalNumber.MatchString(raw) || err != nil:
			reasons = append(reasons, "score is not a number")
		case score < 0 || roundScore(score) > maxScore:
			reasons = append(reasons, fmt.Sprintf("score must be between 0 and %s", strconv.FormatFloat(maxScore, 'f', -1, 64)))
		}
		if len(reasons) > 0 {
			problems = append(problems, RowProblem{Row: r.Row, Email: r.Email, Reason: strings.Join(reasons, "; ")})
			continue
		}
		score = roundScore(score)
		prev, had := current[u.ID]
		if had && prev == score {
			continue
		}
		ov := &ScoreOverridden{ExamID: e.ID, StudentID: u.ID, Score: score, MaxScore: maxScore, Source: "import", OverriddenAt: now.UTC()}
		if had {
			ov.PreviousScore = &prev
		}
		events = append(events, Event{Type: TypeScoreOverridden, Tags: attemptTags(e.ID, u.ID), Data: ov})
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Row < problems[j].Row })
		return ScoreImport{}, &RowsError{Rows: problems}
	}
	return ScoreImport{Accepted: len(rows), Events: events}, nil
}
