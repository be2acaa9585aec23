package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
	"github.com/gin-gonic/gin"
)

type choiceIn struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

type questionIn struct {
	ID             string     `json:"id"`
	Text           string     `json:"text"`
	Kind           string     `json:"kind"`
	Choices        []choiceIn `json:"choices"`
	Correct        []string   `json:"correct"`
	Points         *float64   `json:"points"`
	NegativePoints *float64   `json:"negative_points"`
	ImageID        *string    `json:"image_id"`
}

func (q questionIn) input() domain.QuestionInput {
	in := domain.QuestionInput{ID: q.ID, Text: q.Text, Kind: domain.QuestionKind(q.Kind), Correct: q.Correct,
		Points: q.Points, NegativePoints: q.NegativePoints}
	for _, ch := range q.Choices {
		in.Choices = append(in.Choices, domain.Choice{Key: ch.Key, Text: ch.Text})
	}
	if q.ImageID != nil {
		in.ImageID = *q.ImageID
	}
	return in
}

type examIn struct {
	Title            string       `json:"title"`
	LevelID          string       `json:"level_id"`
	Description      string       `json:"description"`
	OpensAt          *time.Time   `json:"opens_at"`
	ClosesAt         *time.Time   `json:"closes_at"`
	TimeLimitSeconds *int         `json:"time_limit_seconds"`
	ShuffleQuestions bool         `json:"shuffle_questions"`
	ShuffleChoices   bool         `json:"shuffle_choices"`
	Questions        []questionIn `json:"questions"`
}

func (e examIn) input() domain.ExamDraftInput {
	in := domain.ExamDraftInput{Title: e.Title, Description: e.Description, LevelID: e.LevelID, OpensAt: e.OpensAt, ClosesAt: e.ClosesAt,
		ShuffleQuestions: e.ShuffleQuestions, ShuffleChoices: e.ShuffleChoices}
	if e.TimeLimitSeconds != nil {
		in.TimeLimitSeconds = *e.TimeLimitSeconds
	}
	for _, q := range e.Questions {
		in.Questions = append(in.Questions, q.input())
	}
	return in
}

// writeExam answers a staff command with the full exam and its ETag.
func writeExam(c *gin.Context, status int, res commands.ExamResult) {
	setPosition(c, res.Position)
	c.Header("ETag", etag(res.Exam.Version))
	c.JSON(status, viewExam(res.Exam, true, true))
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

func (s *Server) createExam(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin, domain.RoleDoctor) {
		return
	}
	var req examIn
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	m := s.meta(c)
	res, err := s.cmd.DraftExam.Handle(c.Request.Context(), m, req.input())
	if err != nil {
		Abort(c, err)
		return
	}
	writeExam(c, http.StatusCreated, res)
}

// examCommand runs a staff command on the exam named in the path.
func (s *Server) examCommand(c *gin.Context, status int, run func(m commands.Meta, examID string) (commands.ExamResult, error)) {
	if !requireRole(c, domain.RoleAdmin, domain.RoleDoctor) {
		return
	}
	res, err := run(s.meta(c), c.Param("id"))
	if err != nil {
		Abort(c, err)
		return
	}
	writeExam(c, status, res)
}

func (s *Server) replaceExam(c *gin.Context) {
	var req examIn
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	s.examCommand(c, http.StatusOK, func(m commands.Meta, id string) (commands.ExamResult, error) {
		return s.cmd.ReplaceExam.Handle(c.Request.Context(), m, id, req.input())
	})
}

func (s *Server) addQuestion(c *gin.Context) {
	var req questionIn
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	s.examCommand(c, http.StatusCreated, func(m commands.Meta, id string) (commands.ExamResult, error) {
		res, _, err := s.cmd.AddQuestion.Handle(c.Request.Context(), m, id, req.input())
		return res, err
	})
}

func (s *Server) updateQuestion(c *gin.Context) {
	var req questionIn
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	s.examCommand(c, http.StatusOK, func(m commands.Meta, id string) (commands.ExamResult, error) {
		res, _, err := s.cmd.UpdateQuestion.Handle(c.Request.Context(), m, id, c.Param("qid"), req.input())
		return res, err
	})
}

func (s *Server) removeQuestion(c *gin.Context) {
	s.examCommand(c, http.StatusOK, func(m commands.Meta, id string) (commands.ExamResult, error) {
		return s.cmd.RemoveQuestion.Handle(c.Request.Context(), m, id, c.Param("qid"))
	})
}

func (s *Server) publishExam(c *gin.Context) {
	s.examCommand(c, http.StatusOK, func(m commands.Meta, id string) (commands.ExamResult, error) {
		return s.cmd.PublishExam.Handle(c.Request.Context(), m, id)
	})
}

// closeExam answers 202 when it closed the exam (grading follows
// asynchronously) and 200 when the exam was already closed.
func (s *Server) closeExam(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin, domain.RoleDoctor) {
		return
	}
	res, err := s.cmd.CloseExam.Handle(c.Request.Context(), s.meta(c), c.Param("id"))
	if err != nil {
		Abort(c, err)
		return
	}
	status := http.StatusAccepted
	if !res.Changed {
		status = http.StatusOK
	}
	writeExam(c, status, res)
}

type answerKeyRequest struct {
	Correct []string `json:"correct"`
	Points  *float64 `json:"points"`
}

func (s *Server) correctAnswerKey(c *gin.Context) {
	var req answerKeyRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	s.examCommand(c, http.StatusOK, func(m commands.Meta, id string) (commands.ExamResult, error) {
		return s.cmd.CorrectKey.Handle(c.Request.Context(), m, id, c.Param("qid"), req.Correct, req.Points)
	})
}

type regradeRequest struct {
	DryRun *bool `json:"dry_run"`
}

type scoreChangeView struct {
	StudentID string   `json:"student_id"`
	OldScore  *float64 `json:"old_score"`
	NewScore  float64  `json:"new_score"`
}

func (s *Server) regrade(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin, domain.RoleDoctor) {
		return
	}
	var req regradeRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	if req.DryRun == nil {
		Abort(c, validationFailed(map[string]string{"dry_run": "is required (true or false)"}))
		return
	}
	m := s.meta(c)
	res, err := s.cmd.GradeExam.Handle(c.Request.Context(), m, c.Param("id"), "regrade", *req.DryRun)
	if err != nil {
		Abort(c, err)
		return
	}
	changed := make([]scoreChangeView, 0, len(res.Changed))
	for _, ch := range res.Changed {
		changed = append(changed, scoreChangeView{StudentID: ch.StudentID, OldScore: ch.OldScore, NewScore: ch.NewScore})
	}
	setPosition(c, res.Position)
	c.JSON(http.StatusOK, gin.H{"dry_run": res.DryRun, "changed": changed, "unchanged": res.Unchanged})
}

// getExam serves staff from the exam's own stream (always current, keys
// included) and students from the cache of rendered student documents.
func (s *Server) getExam(c *gin.Context) {
	a := actorFrom(c)
	id := c.Param("id")
	ctx := c.Request.Context()
	if a.Role == domain.RoleStudent {
		doc, ok, err := s.reads.StudentExam(ctx, id)
		if err != nil {
			Abort(c, err)
			return
		}
		if !ok || doc.LevelID != a.LevelID || doc.Status == domain.StatusDraft {
			Abort(c, domain.ErrNotFound)
			return
		}
		if doc.Status == domain.StatusScheduled {
			if doc, err = s.openingDoc(ctx, id, doc); err != nil {
				Abort(c, err)
				return
			}
		}
		body, err := studentOrder(doc.Body, a.ID)
		if err != nil {
			Abort(c, err)
			return
		}
		c.Header("ETag", etag(doc.Version))
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
		return
	}
	e, err := s.cmd.Repo.LoadExam(ctx, id)
	if err != nil {
		Abort(c, err)
		return
	}
	if !e.Exists() {
		Abort(c, domain.ErrNotFound)
		return
	}
	if !e.CanManage(a) {
		Abort(c, domain.ErrForbidden)
		return
	}
	c.Header("ETag", etag(e.Version))
	c.JSON(http.StatusOK, viewExam(e, true, true))
}

type examCursor struct {
	created time.Time
	id      string
}

func (s *Server) listExams(c *gin.Context) {
	page, err := ParsePage(c)
	if err != nil {
		Abort(c, err)
		return
	}
	raw, err := DecodeCursor(page.Cursor)
	if err != nil {
		Abort(c, err)
		return
	}
	var cur examCursor
	if raw != "" {
		ts, id, ok := strings.Cut(raw, "|")
		t, perr := time.Parse(time.RFC3339Nano, ts)
		if !ok || perr != nil {
			Abort(c, validationFailed(map[string]string{"cursor": "is not a valid cursor"}))
			return
		}
		cur = examCursor{created: t, id: id}
	}
	status := domain.ExamStatus(c.Query("status"))
	switch status {
	case "", domain.StatusDraft, domain.StatusScheduled, domain.StatusOpen, domain.StatusClosed, domain.StatusGraded:
	default:
		Abort(c, validationFailed(map[string]string{"status": "must be one of draft, scheduled, open, closed, graded"}))
		return
	}
	exams, more, err := s.reads.ListExams(c.Request.Context(), projections.ExamFilter{
		Status: status, LevelID: c.Query("level_id"), Viewer: actorFrom(c),
		AfterCreated: cur.created, AfterID: cur.id, Limit: page.Limit})
	if err != nil {
		Abort(c, err)
		return
	}
	items := make([]examView, 0, len(exams))
	for _, e := range exams {
		items = append(items, viewExam(e, false, false))
	}
	next := ""
	if more && len(exams) > 0 {
		last := exams[len(exams)-1]
		next = EncodeCursor(last.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + last.ID)
	}
	c.JSON(http.StatusOK, NewListResponse(items, next))
}

// openingDoc serves a scheduled exam at the moment it opens. Every cache
// holds a scheduled exam sealed; once its opens_at has passed it accepts
// answers before the scheduler records the opening, so it must be readable
// too: then it is rendered from its own stream. Until then the sealed
// document is served as it is.
func (s *Server) openingDoc(ctx context.Context, id string, sealed projections.StudentDoc) (projections.StudentDoc, error) {
	var head struct {
		OpensAt *time.Time `json:"opens_at"`
	}
	if err := json.Unmarshal(sealed.Body, &head); err != nil {
		return sealed, fmt.Errorf("sealed exam %s: %w", id, err)
	}
	now := s.now()
	if head.OpensAt == nil || now.Before(*head.OpensAt) {
		return sealed, nil
	}
	e, err := s.cmd.Repo.LoadExam(ctx, id)
	if err != nil {
		return sealed, err
	}
	if !e.Exists() || projections.Sealed(e, now) || e.LevelID != sealed.LevelID {
		return sealed, nil
	}
	if e.Status != domain.StatusScheduled {
		// Opened (or closed) meanwhile: the cache has or will have it.
		return projections.RenderStudentDoc(e, projections.RenderStudentExam)
	}
	body, err := renderOpenedExam(projections.OpenedStudentView(e, now))
	if err != nil {
		return sealed, err
	}
	return projections.StudentDoc{Body: body, Version: e.Version, LevelID: e.LevelID, Status: e.Status}, nil
}
