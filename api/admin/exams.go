package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
	"github.com/gin-gonic/gin"
)

const examsPageSize = 50

func examFilter(a domain.Actor, status string, limit int) projections.ExamFilter {
	return projections.ExamFilter{Viewer: a, Status: domain.ExamStatus(status), Limit: limit}
}

type examsData struct {
	Exams  []*domain.Exam
	Status string
	Levels map[string]string
	Owners map[string]string // admins see whose exam it is
	Next   string
}

func (h *Handler) listExams(c *gin.Context) {
	ctx := c.Request.Context()
	d := examsData{Status: c.Query("status")}
	f := examFilter(h.actor(c), d.Status, examsPageSize)
	if after := c.Query("after"); after != "" {
		if e, ok, err := h.reads.Exam(ctx, after); err == nil && ok {
			f.AfterCreated, f.AfterID = e.CreatedAt, e.ID
		}
	}
	exams, more, err := h.reads.ListExams(ctx, f)
	if err != nil {
		h.failErr(c, err)
		return
	}
	d.Exams = exams
	if more && len(exams) > 0 {
		d.Next = "/admin/exams?" + url.Values{"status": {d.Status}, "after": {exams[len(exams)-1].ID}}.Encode()
	}
	if d.Levels, _, err = h.levelNames(ctx); err != nil {
		h.failErr(c, err)
		return
	}
	if h.actor(c).Role == domain.RoleAdmin {
		d.Owners = map[string]string{}
		for _, ex := range exams {
			if _, done := d.Owners[ex.OwnerID]; !done {
				_, d.Owners[ex.OwnerID] = h.userLabel(ctx, ex.OwnerID)
			}
		}
	}
	h.render(c, http.StatusOK, "exams.html", page{Title: "Exams", Nav: "exams", Data: d})
}

// examForm is the exam details form (create, or edit while draft).
type examForm struct {
	Exam        *domain.Exam
	Title       string
	Description string
	LevelID     string
	OpensAt     string // datetime-local, UTC
	ClosesAt    string
	TimeLimit   string // minutes
	// ShuffleQuestions, ShuffleChoices: each student's own order.
	ShuffleQuestions bool
	ShuffleChoices   bool
	Levels           []domain.Level
}

// formTime is the value of an <input type="datetime-local"> (UTC).
const formTime = "2006-01-02T15:04"

func fmtFormTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(formTime)
}

func (h *Handler) newExamPage(c *gin.Context) {
	_, levels, err := h.levelNames(c.Request.Context())
	if err != nil {
		h.failErr(c, err)
		return
	}
	h.render(c, http.StatusOK, "exam_form.html", page{Title: "New exam", Nav: "exams", Data: examForm{Levels: levels}})
}

// parseExamForm reads the details form; fields holds what could not be parsed.
func parseExamForm(c *gin.Context) (examForm, domain.ExamDraftInput, map[string]string) {
	f := examForm{Title: c.PostForm("title"), Description: c.PostForm("description"), LevelID: c.PostForm("level_id"),
		OpensAt: c.PostForm("opens_at"), ClosesAt: c.PostForm("closes_at"), TimeLimit: c.PostForm("time_limit_minutes")}
	f.ShuffleQuestions, f.ShuffleChoices = c.PostForm("shuffle_questions") == "on", c.PostForm("shuffle_choices") == "on"
	in := domain.ExamDraftInput{Title: f.Title, Description: f.Description, LevelID: f.LevelID,
		ShuffleQuestions: f.ShuffleQuestions, ShuffleChoices: f.ShuffleChoices}
	fields := map[string]string{}
	for name, p := range map[string]struct {
		v   string
		dst **time.Time
	}{"opens_at": {f.OpensAt, &in.OpensAt}, "closes_at": {f.ClosesAt, &in.ClosesAt}} {
		if strings.TrimSpace(p.v) == "" {
			continue
		}
		t, err := time.ParseInLocation(formTime, strings.TrimSpace(p.v), time.UTC)
		if err != nil {
			fields[name] = "must be a date and time"
			continue
		}
		*p.dst = &t
	}
	if s := strings.TrimSpace(f.TimeLimit); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			fields["time_limit_seconds"] = "must be a whole number of minutes"
		} else {
			in.TimeLimitSeconds = n * 60
		}
	}
	return f, in, fields
}

func (h *Handler) createExam(c *gin.Context) {
	ctx := c.Request.Context()
	f, in, fields := parseExamForm(c)
	var err error = domain.NewValidationError(fields)
	if len(fields) == 0 {
		res, cerr := h.cmd.DraftExam.Handle(ctx, h.meta(c), in)
		if cerr == nil {
			c.Redirect(http.StatusSeeOther, "/admin/exams/"+url.PathEscape(res.Exam.ID)+"?ok=exam_created")
			return
		}
		err = cerr
	}
	_, f.Levels, _ = h.levelNames(ctx)
	h.formError(c, err, "exam_form.html", page{Title: "New exam", Nav: "exams", Data: f})
}

// managedExam loads the exam of the path from its stream if the actor
// manages it: another doctor's exam is 404, as if it did not exist.
func (h *Handler) managedExam(c *gin.Context) (*domain.Exam, bool) {
	e, err := h.cmd.Repo.LoadExam(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.failErr(c, err)
		return nil, false
	}
	if !e.Exists() || !e.CanManage(h.actor(c)) {
		h.fail(c, http.StatusNotFound, "No such exam, or it is not yours.")
		return nil, false
	}
	return e, true
}

type examData struct {
	Exam      *domain.Exam
	LevelName string
	Owner     string
	MaxScore  float64
}

func (h *Handler) examPage(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	names, _, err := h.levelNames(ctx)
	if err != nil {
		h.failErr(c, err)
		return
	}
	d := examData{Exam: e, LevelName: names[e.LevelID], MaxScore: e.MaxScore()}
	if u, err := h.cmd.Repo.LoadUser(ctx, e.OwnerID); err == nil && u.Exists() {
		d.Owner = u.FullName + " <" + u.Email + ">"
	}
	h.render(c, http.StatusOK, "exam.html", page{Title: e.Title, Nav: "exams", Data: d})
}

func (h *Handler) editExamPage(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	_, levels, err := h.levelNames(c.Request.Context())
	if err != nil {
		h.failErr(c, err)
		return
	}
	f := examForm{Exam: e, Title: e.Title, Description: e.Description, LevelID: e.LevelID, OpensAt: fmtFormTime(e.OpensAt),
		ClosesAt: fmtFormTime(e.ClosesAt), Levels: levels, ShuffleQuestions: e.ShuffleQuestions, ShuffleChoices: e.ShuffleChoices}
	if e.TimeLimitSeconds > 0 {
		f.TimeLimit = strconv.Itoa(e.TimeLimitSeconds / 60)
	}
	h.render(c, http.StatusOK, "exam_form.html", page{Title: "Edit " + e.Title, Nav: "exams", Data: f})
}

// questionInputs turns an exam's questions back into inputs, so replacing
// the details keeps them as they are.
func questionInputs(qs []domain.Question) []domain.QuestionInput {
	out := make([]domain.QuestionInput, 0, len(qs))
	for _, q := range qs {
		p, n := q.Points, q.NegativePoints
		out = append(out, domain.QuestionInput{ID: q.ID, Text: q.Text, Kind: q.Kind, Choices: append([]domain.Choice(nil), q.Choices...),
			Correct: append([]string(nil), q.Correct...), Points: &p, NegativePoints: &n, ImageID: q.ImageID})
	}
	return out
}

func (h *Handler) updateExam(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	f, in, fields := parseExamForm(c)
	f.Exam = e
	var err error = domain.NewValidationError(fields)
	if len(fields) == 0 {
		in.Questions = questionInputs(e.Questions)
		m := h.meta(c)
		m.IfMatch = formVersion(c)
		if _, err = h.cmd.ReplaceExam.Handle(ctx, m, e.ID, in); err == nil {
			c.Redirect(http.StatusSeeOther, "/admin/exams/"+url.PathEscape(e.ID)+"?ok=exam_saved")
			return
		}
	}
	_, f.Levels, _ = h.levelNames(ctx)
	h.formError(c, err, "exam_form.html", page{Title: "Edit " + e.Title, Nav: "exams", Data: f})
}

// formVersion is the exam version the form was rendered at, so a change
// made meanwhile (in another tab, by someone else) is not overwritten.
func formVersion(c *gin.Context) *int64 {
	v, err := strconv.ParseInt(c.PostForm("version"), 10, 64)
	if err != nil {
		return nil
	}
	return &v
}

func (h *Handler) publishExam(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	m := h.meta(c)
	m.IfMatch = formVersion(c)
	if _, err := h.cmd.PublishExam.Handle(c.Request.Context(), m, e.ID); err != nil {
		h.failErr(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/exams/"+url.PathEscape(e.ID)+"?ok=published")
}

func (h *Handler) closeExam(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	if _, err := h.cmd.CloseExam.Handle(c.Request.Context(), h.meta(c), e.ID); err != nil {
		h.failErr(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/exams/"+url.PathEscape(e.ID)+"?ok=closed")
}

// --- questions ---

// maxFormChoices is how many choice rows the question form offers.
const maxFormChoices = 6

type choiceRow struct {
	Key     string
	Text    string
	Correct bool
}

type questionForm struct {
	Exam           *domain.Exam
	Question       *domain.Question // nil when adding
	Text           string
	Kind           string
	Choices        []choiceRow
	TrueCorrect    bool
	FalseCorrect   bool
	Points         string
	NegativePoints string
	ImageID        string
}

func newQuestionForm(e *domain.Exam, q *domain.Question) questionForm {
	f := questionForm{Exam: e, Question: q, Kind: string(domain.KindSingle), Points: "1", NegativePoints: "0"}
	correct := map[string]bool{}
	if q != nil {
		f.Text, f.Kind, f.ImageID = q.Text, string(q.Kind), q.ImageID
		f.Points, f.NegativePoints = fmtNum(q.Points), fmtNum(q.NegativePoints)
		for _, k := range q.Correct {
			correct[k] = true
		}
		if q.Kind != domain.KindTrueFalse {
			for _, ch := range q.Choices {
				f.Choices = append(f.Choices, choiceRow{Key: ch.Key, Text: ch.Text, Correct: correct[ch.Key]})
			}
		}
		f.TrueCorrect, f.FalseCorrect = correct["true"], correct["false"]
	}
	for len(f.Choices) < maxFormChoices {
		f.Choices = append(f.Choices, choiceRow{Key: string(rune('a' + len(f.Choices)))})
	}
	return f
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// parseQuestionForm reads the question form (and its image, if one was
// chosen: uploaded through the upload command first).
func (h *Handler) parseQuestionForm(c *gin.Context, e *domain.Exam, q *domain.Question) (questionForm, domain.QuestionInput, error) {
	f := questionForm{Exam: e, Question: q, Text: c.PostForm("text"), Kind: c.PostForm("kind"), Points: c.PostForm("points"),
		NegativePoints: c.PostForm("negative_points"), ImageID: c.PostForm("image_id")}
	in := domain.QuestionInput{Text: f.Text, Kind: domain.QuestionKind(f.Kind), ImageID: f.ImageID}
	if q != nil {
		in.ID = q.ID
	}
	fields := map[string]string{}
	num := func(name, v string) *float64 {
		if strings.TrimSpace(v) == "" {
			return nil
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			fields[name] = "must be a number"
			return nil
		}
		return &n
	}
	in.Points = num("points", f.Points)
	in.NegativePoints = num("negative_points", f.NegativePoints)
	correct := map[string]bool{}
	for _, k := range c.PostFormArray("correct") {
		correct[k] = true
	}
	if in.Kind == domain.KindTrueFalse {
		f.TrueCorrect, f.FalseCorrect = correct["true"], correct["false"]
		for _, k := range []string{"true", "false"} {
			if correct[k] {
				in.Correct = append(in.Correct, k)
			}
		}
	}
	for i := 0; i < maxFormChoices; i++ {
		key := string(rune('a' + i))
		text := strings.TrimSpace(c.PostForm("choice_" + key))
		f.Choices = append(f.Choices, choiceRow{Key: key, Text: text, Correct: correct[key]})
		if in.Kind == domain.KindTrueFalse || text == "" {
			continue
		}
		in.Choices = append(in.Choices, domain.Choice{Key: key, Text: text})
		if correct[key] {
			in.Correct = append(in.Correct, key)
		}
	}
	if c.PostForm("remove_image") == "1" {
		in.ImageID, f.ImageID = "", ""
	}
	if fh, err := c.FormFile("image"); err == nil && fh.Size > 0 {
		if fh.Size > domain.MaxImageBytes {
			fields["image"] = fmt.Sprintf("must be at most %d MiB", domain.MaxImageBytes>>20)
		} else if file, err := fh.Open(); err != nil {
			fields["image"] = "could not be read"
		} else {
			data, rerr := io.ReadAll(io.LimitReader(file, domain.MaxImageBytes+1))
			_ = file.Close()
			if rerr != nil {
				return f, in, fmt.Errorf("read image: %w", rerr)
			}
			res, err := h.cmd.UploadImage.Handle(c.Request.Context(), h.meta(c), data)
			if err != nil {
				if errors.Is(err, domain.ErrUnsupportedMediaType) {
					fields["image"] = "must be a PNG, JPEG, GIF or WebP image"
				} else if fe := fieldErrors(err); fe != nil {
					for k, v := range fe {
						if k == "file" {
							k = "image"
						}
						fields[k] = v
					}
				} else {
					return f, in, err
				}
			} else {
				in.ImageID, f.ImageID = res.ID, res.ID
			}
		}
	}
	return f, in, domain.NewValidationError(fields)
}

func (h *Handler) newQuestionPage(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	h.render(c, http.StatusOK, "question_form.html", page{Title: "New question", Nav: "exams", Data: newQuestionForm(e, nil)})
}

func (h *Handler) findQuestion(c *gin.Context, e *domain.Exam) (*domain.Question, bool) {
	for i := range e.Questions {
		if e.Questions[i].ID == c.Param("qid") {
			return &e.Questions[i], true
		}
	}
	h.fail(c, http.StatusNotFound, "No such question.")
	return nil, false
}

// managedQuestion is the exam the user may manage and its question named in
// the path; it has answered the request (404) when either is missing.
func (h *Handler) managedQuestion(c *gin.Context) (*domain.Exam, *domain.Question, bool) {
	e, ok := h.managedExam(c)
	if !ok {
		return nil, nil, false
	}
	q, ok := h.findQuestion(c, e)
	if !ok {
		return nil, nil, false
	}
	return e, q, true
}

func (h *Handler) questionPage(c *gin.Context) {
	e, q, ok := h.managedQuestion(c)
	if !ok {
		return
	}
	h.render(c, http.StatusOK, "question_form.html", page{Title: "Question", Nav: "exams", Data: newQuestionForm(e, q)})
}

func (h *Handler) addQuestion(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	f, in, err := h.parseQuestionForm(c, e, nil)
	if err == nil {
		_, _, err = h.cmd.AddQuestion.Handle(c.Request.Context(), h.meta(c), e.ID, in)
	}
	if err != nil {
		h.questionFormError(c, err, f)
		return
	}
	dest := "/admin/exams/" + url.PathEscape(e.ID) + "?ok=question_added"
	if c.PostForm("then") == "another" {
		dest = "/admin/exams/" + url.PathEscape(e.ID) + "/questions/new?ok=question_added"
	}
	c.Redirect(http.StatusSeeOther, dest)
}

func (h *Handler) questionFormError(c *gin.Context, err error, f questionForm) {
	if errors.Is(err, domain.ErrExamNotEditable) {
		h.fail(c, http.StatusConflict, "The exam is no longer a draft: its questions cannot change (correct an answer key instead).")
		return
	}
	h.formError(c, err, "question_form.html", page{Title: "Question", Nav: "exams", Data: f})
}

func (h *Handler) updateQuestion(c *gin.Context) {
	e, q, ok := h.managedQuestion(c)
	if !ok {
		return
	}
	f, in, err := h.parseQuestionForm(c, e, q)
	if err == nil {
		_, _, err = h.cmd.UpdateQuestion.Handle(c.Request.Context(), h.meta(c), e.ID, q.ID, in)
	}
	if err != nil {
		h.questionFormError(c, err, f)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/exams/"+url.PathEscape(e.ID)+"?ok=question_saved")
}

func (h *Handler) removeQuestion(c *gin.Context) {
	e, q, ok := h.managedQuestion(c)
	if !ok {
		return
	}
	if _, err := h.cmd.RemoveQuestion.Handle(c.Request.Context(), h.meta(c), e.ID, q.ID); err != nil {
		h.failErr(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/exams/"+url.PathEscape(e.ID)+"?ok=question_removed")
}

// image serves a stored image to staff (the question pages show them).
func (h *Handler) image(c *gin.Context) {
	id := c.Param("id")
	if h.images == nil || !domain.ValidImageID(id) {
		h.fail(c, http.StatusNotFound, "No such image.")
		return
	}
	data, err := h.images.Get(c.Request.Context(), id)
	if err != nil {
		h.failErr(c, err)
		return
	}
	ct := domain.SniffImageType(data)
	if ct == "" {
		h.failErr(c, fmt.Errorf("image %s: the stored bytes are not an image", id))
		return
	}
	c.Header("Cache-Control", "private, max-age=31536000, immutable")
	c.Data(http.StatusOK, ct, data)
}

// awaitExam waits (briefly) until the read models have the exam at its
// stream's version, so the lists and results a page reads include it.
func (h *Handler) awaitExam(ctx context.Context, e *domain.Exam) bool {
	return h.await(ctx, func(ctx context.Context) bool {
		re, ok, err := h.reads.Exam(ctx, e.ID)
		return err == nil && ok && re.Version >= e.Version
	})
}
