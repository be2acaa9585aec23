package api

import (
	"net/http"
	"time"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

type accommodationRequest struct {
	ExtraSeconds   *int     `json:"extra_seconds"`
	TimeMultiplier *float64 `json:"time_multiplier"`
}

type accommodationView struct {
	ExamID         string     `json:"exam_id"`
	StudentID      string     `json:"student_id"`
	ExtraSeconds   int        `json:"extra_seconds"`
	TimeMultiplier float64    `json:"time_multiplier"`
	Deadline       *time.Time `json:"deadline"`
}

// setAccommodation: PUT /exams/{id}/accommodations/{student_id}.
func (s *Server) setAccommodation(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin, domain.RoleDoctor) {
		return
	}
	var req accommodationRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	if req.ExtraSeconds == nil {
		Abort(c, validationFailed(map[string]string{"extra_seconds": "is required"}))
		return
	}
	mult := 1.0
	if req.TimeMultiplier != nil {
		mult = *req.TimeMultiplier
	}
	m := s.meta(c)
	studentID := c.Param("student_id")
	res, err := s.cmd.SetAccommodation.Handle(c.Request.Context(), m, c.Param("id"), studentID, *req.ExtraSeconds, mult)
	if err != nil {
		Abort(c, err)
		return
	}
	setPosition(c, res.Position)
	s.writeAccommodation(c, res, studentID)
}

// removeAccommodation: DELETE /exams/{id}/accommodations/{student_id}.
func (s *Server) removeAccommodation(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin, domain.RoleDoctor) {
		return
	}
	m := s.meta(c)
	res, err := s.cmd.RemoveAccommodation.Handle(c.Request.Context(), m, c.Param("id"), c.Param("student_id"))
	if err != nil {
		Abort(c, err)
		return
	}
	setPosition(c, res.Position)
	c.Status(http.StatusNoContent)
}

// writeAccommodation answers with the student's accommodation and their
// deadline now (null when they have not started or have none).
func (s *Server) writeAccommodation(c *gin.Context, res commands.ExamResult, studentID string) {
	t, err := s.cmd.Repo.LoadAttempt(c.Request.Context(), res.Exam.ID, studentID)
	if err != nil {
		Abort(c, err)
		return
	}
	acc, _ := res.Exam.AccommodationFor(studentID)
	c.JSON(http.StatusOK, accommodationView{ExamID: res.Exam.ID, StudentID: studentID, ExtraSeconds: acc.ExtraSeconds,
		TimeMultiplier: acc.TimeMultiplier, Deadline: utc(t.DeadlineIn(res.Exam))})
}
