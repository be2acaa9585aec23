package api

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

func itoa(i int) string { return strconv.Itoa(i) }

// studentExam loads the exam named in the path for a student who may see
// it; other students get 404 and staff 403.
func (s *Server) studentExam(c *gin.Context) (*domain.Exam, bool) {
	if !requireRole(c, domain.RoleStudent) {
		return nil, false
	}
	e, err := s.cmd.Repo.LoadExam(c.Request.Context(), c.Param("id"))
	if err != nil {
		Abort(c, err)
		return nil, false
	}
	if !e.Exists() || !e.VisibleTo(actorFrom(c)) {
		Abort(c, domain.ErrNotFound)
		return nil, false
	}
	return e, true
}

// managedExam loads an exam the staff actor manages, or aborts.
func (s *Server) managedExam(c *gin.Context) (*domain.Exam, bool) {
	if !requireRole(c, domain.RoleAdmin, domain.RoleDoctor) {
		return nil, false
	}
	e, err := s.cmd.Repo.LoadExam(c.Request.Context(), c.Param("id"))
	if err != nil {
		Abort(c, err)
		return nil, false
	}
	if !e.Exists() {
		Abort(c, domain.ErrNotFound)
		return nil, false
	}
	if !e.CanManage(actorFrom(c)) {
		Abort(c, domain.ErrForbidden)
		return nil, false
	}
	return e, true
}

// readModelWait bounds how long a results query waits for the read models.
const readModelWait = 5 * time.Second

// awaitReadModel waits until the read models have applied the exam up to
// the version e (folded from its stream) has. The exam's status comes from
// its stream, the degrees from the read models: without this, a client that
// saw "graded" could read a partial list, or a student who took the exam be
// told there is no result. Grade events are published before the exam's
// graded marker, so once the catalogue has the exam's version the results
// have its grades. A read model that stays behind is 503 unavailable.
func (s *Server) awaitReadModel(ctx context.Context, e *domain.Exam) error {
	ctx, cancel := context.WithTimeout(ctx, readModelWait)
	defer cancel()
	for {
		re, ok, err := s.reads.Exam(ctx, e.ID)
		if err != nil {
			return err
		}
		if ok && re.Version >= e.Version {
			return nil
		}
		select {
		case <-ctx.Done():
			return domain.ErrUnavailable
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// examResults lists degrees for staff, as JSON, CSV or XLSX.
func (s *Server) examResults(c *gin.Context) {
	e, ok := s.managedExam(c)
	if !ok {
		return
	}
	format := c.DefaultQuery("format", "json")
	if format != "json" && format != "csv" && format != "xlsx" {
		Abort(c, validationFailed(map[string]string{"format": "must be json, csv or xlsx"}))
		return
	}
	if e.GradeRound == 0 {
		Abort(c, domain.ErrNotGraded)
		return
	}
	ctx := c.Request.Context()
	if err := s.awaitReadModel(ctx, e); err != nil {
		Abort(c, err)
		return
	}
	rows, err := s.reads.ExamResults(ctx, e.ID)
	if err != nil {
		Abort(c, err)
		return
	}
	items := make([]resultItemView, 0, len(rows))
	for _, row := range rows {
		item := resultItemView{StudentID: row.StudentID, Score: row.Score, MaxScore: row.MaxScore,
			Percentage: percentage(row.Score, row.MaxScore), Answered: row.Answered, GradedAt: row.GradedAt.UTC(), Overridden: row.Overridden}
		if u, err := s.lookupUser(ctx, row.StudentID); err == nil && u != nil {
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
	switch format {
	case "csv":
		writeResultsCSV(c, e, items)
	case "xlsx":
		writeResultsXLSX(c, e, items)
	default:
		c.JSON(http.StatusOK, gin.H{"items": items})
	}
}

// myExamResult is a student's own degree, with the key, once graded.
func (s *Server) myExamResult(c *gin.Context) {
	e, ok := s.studentExam(c)
	if !ok {
		return
	}
	a := actorFrom(c)
	ctx := c.Request.Context()
	if e.Status != domain.StatusGraded {
		Abort(c, domain.ErrNotGraded)
		return
	}
	if err := s.awaitReadModel(ctx, e); err != nil {
		Abort(c, err)
		return
	}
	row, ok, err := s.reads.StudentResult(ctx, e.ID, a.ID)
	if err != nil {
		Abort(c, err)
		return
	}
	if !ok {
		Abort(c, NewAPIError(http.StatusNotFound, "not_found", "no result: you did not attempt this exam"))
		return
	}
	c.JSON(http.StatusOK, viewStudentResult(row, e, true))
}

// myResults lists the student's degrees across exams.
func (s *Server) myResults(c *gin.Context) {
	if !requireRole(c, domain.RoleStudent) {
		return
	}
	ctx := c.Request.Context()
	rows, err := s.reads.StudentResults(ctx, actorFrom(c).ID)
	if err != nil {
		Abort(c, err)
		return
	}
	items := make([]studentResultView, 0, len(rows))
	for _, row := range rows {
		e, ok, err := s.reads.Exam(ctx, row.ExamID)
		if err != nil || !ok || e.Status != domain.StatusGraded {
			continue
		}
		items = append(items, viewStudentResult(row, e, false))
	}
	c.JSON(http.StatusOK, NewListResponse(items, ""))
}
