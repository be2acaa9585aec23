package api

import (
	"net/http"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

// viewAttempt shows the deadline in force (the student's own, with their
// accommodation), not the one recorded at the start.
func viewAttempt(t *domain.Attempt, e *domain.Exam) attemptView {
	return attemptView{AttemptID: t.ID, ExamID: t.ExamID, Status: string(t.Status), StartedAt: t.StartedAt.UTC(), Deadline: utc(t.DeadlineIn(e))}
}

// studentMeta is the command context of a student request; staff are refused.
func (s *Server) studentMeta(c *gin.Context) (commands.Meta, bool) {
	if !requireRole(c, domain.RoleStudent) {
		return commands.Meta{}, false
	}
	m := s.meta(c)
	return m, true
}

func (s *Server) startAttempt(c *gin.Context) {
	m, ok := s.studentMeta(c)
	if !ok {
		return
	}
	res, err := s.cmd.StartAttempt.Handle(c.Request.Context(), m, c.Param("id"))
	if err != nil {
		Abort(c, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	setPosition(c, res.Position)
	c.JSON(status, viewAttempt(res.Attempt, res.Exam))
}

type answerRequest struct {
	Choices []string `json:"choices"`
}

func (s *Server) saveAnswer(c *gin.Context) {
	m, ok := s.studentMeta(c)
	if !ok {
		return
	}
	var req answerRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	if req.Choices == nil {
		Abort(c, validationFailed(map[string]string{"choices": "is required (an empty list clears the answer)"}))
		return
	}
	res, err := s.cmd.SaveAnswers.Handle(c.Request.Context(), m, c.Param("id"),
		[]domain.AnswerInput{{QuestionID: c.Param("qid"), Choices: req.Choices}})
	if err != nil {
		Abort(c, err)
		return
	}
	setPosition(c, res.Position)
	saved := res.Saved[len(res.Saved)-1]
	c.JSON(http.StatusOK, savedAnswerView{QuestionID: saved.QuestionID, Choices: nonNil(saved.Choices), SavedAt: saved.SavedAt.UTC()})
}

type batchAnswer struct {
	QuestionID string   `json:"question_id"`
	Choices    []string `json:"choices"`
}

type batchRequest struct {
	Answers []batchAnswer `json:"answers"`
}

func (s *Server) saveAnswers(c *gin.Context) {
	m, ok := s.studentMeta(c)
	if !ok {
		return
	}
	var req batchRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	answers := make([]domain.AnswerInput, 0, len(req.Answers))
	fields := map[string]string{}
	seen := map[string]bool{}
	for i, a := range req.Answers {
		switch {
		case a.QuestionID == "":
			fields["answers["+itoa(i)+"].question_id"] = "is required"
		case seen[a.QuestionID]:
			fields["answers["+itoa(i)+"].question_id"] = "appears twice in the batch"
		}
		if a.Choices == nil {
			fields["answers["+itoa(i)+"].choices"] = "is required"
		}
		seen[a.QuestionID] = true
		answers = append(answers, domain.AnswerInput{QuestionID: a.QuestionID, Choices: a.Choices})
	}
	if len(req.Answers) == 0 {
		fields["answers"] = "needs at least one answer"
	}
	if len(fields) > 0 {
		Abort(c, validationFailed(fields))
		return
	}
	res, err := s.cmd.SaveAnswers.Handle(c.Request.Context(), m, c.Param("id"), answers)
	if err != nil {
		Abort(c, err)
		return
	}
	setPosition(c, res.Position)
	c.JSON(http.StatusOK, gin.H{"saved": len(res.Saved)})
}

func (s *Server) submit(c *gin.Context) {
	m, ok := s.studentMeta(c)
	if !ok {
		return
	}
	res, err := s.cmd.SubmitAttempt.Handle(c.Request.Context(), m, c.Param("id"))
	if err != nil {
		Abort(c, err)
		return
	}
	setPosition(c, res.Position)
	c.JSON(http.StatusOK, submittedView{AttemptID: res.Attempt.ID, Status: string(res.Attempt.Status), SubmittedAt: res.Attempt.SubmittedAt.UTC()})
}

// getAttempt reads the attempt's own stream: a student always sees every
// answer the platform acknowledged.
func (s *Server) getAttempt(c *gin.Context) {
	e, ok := s.studentExam(c)
	if !ok {
		return
	}
	a := actorFrom(c)
	ctx := c.Request.Context()
	t, err := s.cmd.Repo.LoadAttempt(ctx, e.ID, a.ID)
	if err != nil {
		Abort(c, err)
		return
	}
	if !t.Started() {
		Abort(c, NewAPIError(http.StatusNotFound, "not_found", "no attempt yet"))
		return
	}
	acc, _ := e.AccommodationFor(a.ID)
	current := t.CurrentAnswers()
	answers := make(map[string][]string, len(current))
	for q, ans := range current {
		answers[q] = nonNil(ans.Choices)
	}
	c.JSON(http.StatusOK, attemptStateView{AttemptID: t.ID, ExamID: t.ExamID, Status: string(t.Status), StartedAt: t.StartedAt.UTC(),
		Deadline: utc(t.DeadlineIn(e)), SubmittedAt: utc(t.SubmittedAt), Answers: answers, Now: s.cmd.Now().UTC(), ExtraSeconds: acc.ExtraSeconds})
}
