package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
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
	items, e, err := resultItems(c.Request.Context(), s.reads, s.cmd.Repo.LoadExam, s.lookupUser, e)
	if err != nil {
		Abort(c, err)
		return
	}
	if format == "json" {
		c.JSON(http.StatusOK, gin.H{"items": items})
		return
	}
	writeResultsFile(c, e, items, format)
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
	if err := awaitGrades(ctx, s.reads, e); err != nil {
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
	// Every exam of the level the catalogue says is graded must have its
	// grades in the results model before the list is read: a list that
	// left out a graded exam would contradict GET /exams/{id}.
	graded, _, err := s.reads.ListExams(ctx, projections.ExamFilter{Status: domain.StatusGraded, Viewer: actorFrom(c), Limit: MaxPageLimit})
	if err != nil {
		Abort(c, err)
		return
	}
	for _, e := range graded {
		if err := awaitGrades(ctx, s.reads, e); err != nil {
			Abort(c, err)
			return
		}
	}
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
