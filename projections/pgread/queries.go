package pgread

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
)

// The queries answer as the in-memory Catalog and Results do (the API
// relies on their semantics; projections/readmodeltest checks both).

// Exam returns the folded exam.
func (s *Store) Exam(ctx context.Context, id string) (*domain.Exam, bool, error) {
	e, ok, err := queryDoc[examDoc, domain.Exam](ctx, s.pool, `SELECT doc FROM rm_exams WHERE id = $1`, id)
	if err != nil {
		return nil, false, fmt.Errorf("pgread: exam %s: %w", id, err)
	}
	return e, ok, nil
}

// ExamHead returns the stream version the stored exam reflects, without
// reading the exam (caches compare it with theirs).
func (s *Store) ExamHead(ctx context.Context, id string) (int64, bool, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM rm_exams WHERE id = $1`, id).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("pgread: exam head %s: %w", id, err)
	}
	return v, true, nil
}

// args collects positional query arguments.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// ListExams returns the exams visible to f.Viewer, ordered by creation
// (time, then id), and whether more follow. Visibility is domain
// (*Exam).VisibleTo written as SQL, so that LIMIT pages correctly.
func (s *Store) ListExams(ctx context.Context, f projections.ExamFilter) ([]*domain.Exam, bool, error) {
	var a args
	var where []string
	switch f.Viewer.Role {
	case domain.RoleAdmin, domain.RoleSystem:
	case domain.RoleDoctor:
		where = append(where, "owner_id = "+a.add(f.Viewer.ID))
	case domain.RoleStudent:
		if f.Viewer.LevelID == "" {
			return []*domain.Exam{}, false, nil
		}
		where = append(where, "status <> "+a.add(string(domain.StatusDraft)), "level_id = "+a.add(f.Viewer.LevelID))
	default:
		return []*domain.Exam{}, false, nil // manages nothing, sees nothing
	}
	if f.Status != "" {
		where = append(where, "status = "+a.add(string(f.Status)))
	}
	if f.LevelID != "" {
		where = append(where, "level_id = "+a.add(f.LevelID))
	}
	if f.AfterID != "" {
		where = append(where, fmt.Sprintf("(created_s, created_ns, id) > (%s, %s, %s)",
			a.add(f.AfterCreated.Unix()), a.add(f.AfterCreated.Nanosecond()), a.add(f.AfterID)))
	}
	sql := "SELECT doc FROM rm_exams"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY created_s, created_ns, id"
	if f.Limit > 0 {
		sql += " LIMIT " + a.add(f.Limit+1)
	}
	exams, err := queryDocs[examDoc, domain.Exam](ctx, s.pool, sql, a...)
	if err != nil {
		return nil, false, fmt.Errorf("pgread: list exams: %w", err)
	}
	if exams == nil {
		exams = []*domain.Exam{}
	}
	if f.Limit > 0 && len(exams) > f.Limit {
		return exams[:f.Limit], true, nil
	}
	return exams, false, nil
}

// DueExams lists exams the scheduler should look at: scheduled ones whose
// opening has come and open ones whose closing has passed (the rule of
// projections.ExamDue), by id.
func (s *Store) DueExams(ctx context.Context, now time.Time) ([]string, error) {
	// timestamptz keeps microseconds: the SQL bound is widened by one so
	// that it never misses a candidate, and the exact rule is applied to
	// the stored exams.
	bound := now.Add(time.Microsecond)
	exams, err := queryDocs[examDoc, domain.Exam](ctx, s.pool, `SELECT doc FROM rm_exams
		WHERE status IN ('scheduled', 'open')
		  AND ((status = 'scheduled' AND opens_at <= $1) OR closes_at <= $1)
		ORDER BY id`, bound)
	if err != nil {
		return nil, fmt.Errorf("pgread: due exams: %w", err)
	}
	var ids []string
	for _, e := range exams {
		if projections.ExamDue(e, now) {
			ids = append(ids, e.ID)
		}
	}
	return ids, nil
}

// ExamsNeedingGrading lists, by id, closed exams not graded since their
// last change (domain (*Exam).NeedsGrading, stored at each fold).
func (s *Store) ExamsNeedingGrading(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM rm_exams WHERE needs_grading ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("pgread: exams needing grading: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgread: exams needing grading: %w", err)
	}
	return ids, nil
}

// Levels lists all levels by name (then id).
func (s *Store) Levels(ctx context.Context) ([]domain.Level, error) {
	ls, err := queryDocs[levelDoc, domain.Level](ctx, s.pool, `SELECT doc FROM rm_levels ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("pgread: levels: %w", err)
	}
	out := make([]domain.Level, len(ls))
	for i, l := range ls {
		out[i] = *l
	}
	return out, nil
}

// User returns a user.
func (s *Store) User(ctx context.Context, id string) (*domain.User, bool, error) {
	u, ok, err := queryDoc[userDoc, domain.User](ctx, s.pool, `SELECT doc FROM rm_users WHERE id = $1`, id)
	if err != nil {
		return nil, false, fmt.Errorf("pgread: user %s: %w", id, err)
	}
	return u, ok, nil
}

// ListUsers returns users ordered by email, and whether more follow.
// Search is a case-insensitive substring of the email or the full name;
// AfterID is the last email of the previous page.
func (s *Store) ListUsers(ctx context.Context, f projections.UserFilter) ([]*domain.User, bool, error) {
	var a args
	var where []string
	if f.Role != "" {
		where = append(where, "role = "+a.add(string(f.Role)))
	}
	if f.LevelID != "" {
		where = append(where, "level_id = "+a.add(f.LevelID))
	}
	if search := strings.ToLower(strings.TrimSpace(f.Search)); search != "" {
		// strpos, not LIKE: the search is a literal, % and _ included.
		p := a.add(search)
		where = append(where, fmt.Sprintf("(strpos(email, %s) > 0 OR strpos(name_lower, %s) > 0)", p, p))
	}
	if f.AfterID != "" {
		where = append(where, "email > "+a.add(f.AfterID))
	}
	sql := "SELECT doc FROM rm_users"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY email, id"
	if f.Limit > 0 {
		sql += " LIMIT " + a.add(f.Limit+1)
	}
	users, err := queryDocs[userDoc, domain.User](ctx, s.pool, sql, a...)
	if err != nil {
		return nil, false, fmt.Errorf("pgread: list users: %w", err)
	}
	if users == nil {
		users = []*domain.User{}
	}
	if f.Limit > 0 && len(users) > f.Limit {
		return users[:f.Limit], true, nil
	}
	return users, false, nil
}

func rowsOf(ptrs []*projections.ResultRow) []projections.ResultRow {
	out := make([]projections.ResultRow, len(ptrs))
	for i, r := range ptrs {
		out[i] = *r
	}
	return out
}

// ExamResults lists an exam's results ordered by student id.
func (s *Store) ExamResults(ctx context.Context, examID string) ([]projections.ResultRow, error) {
	rows, err := queryDocs[resultDoc, projections.ResultRow](ctx, s.pool,
		`SELECT doc FROM rm_results WHERE exam_id = $1 ORDER BY student_id`, examID)
	if err != nil {
		return nil, fmt.Errorf("pgread: exam results %s: %w", examID, err)
	}
	return rowsOf(rows), nil
}

// GradesApplied is the version of the exam's grades stream the results
// projection has applied (0: none).
func (s *Store) GradesApplied(ctx context.Context, examID string) (int64, error) {
	return s.Applied(ctx, "results", domain.GradesStream(examID))
}

// StudentResult returns one student's result in one exam.
func (s *Store) StudentResult(ctx context.Context, examID, studentID string) (projections.ResultRow, bool, error) {
	row, ok, err := queryDoc[resultDoc, projections.ResultRow](ctx, s.pool,
		`SELECT doc FROM rm_results WHERE exam_id = $1 AND student_id = $2`, examID, studentID)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("pgread: student result %s %s: %w", examID, studentID, err)
		}
		return projections.ResultRow{}, false, err
	}
	return *row, true, nil
}

// StudentResults lists a student's results across exams, newest graded
// first.
func (s *Store) StudentResults(ctx context.Context, studentID string) ([]projections.ResultRow, error) {
	rows, err := queryDocs[resultDoc, projections.ResultRow](ctx, s.pool,
		`SELECT doc FROM rm_results WHERE student_id = $1 ORDER BY graded_s DESC, graded_ns DESC, exam_id`, studentID)
	if err != nil {
		return nil, fmt.Errorf("pgread: student results %s: %w", studentID, err)
	}
	return rowsOf(rows), nil
}
