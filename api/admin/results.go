package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/examhall/exam/api"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
	"github.com/gin-gonic/gin"
)

// resultRow is one line of the results table.
type resultRow struct {
	projections.ResultRow
	Email      string
	FullName   string
	Percentage float64
}

// importOutcome is what the last import said.
type importOutcome struct {
	Imported, Recorded int
	Error              string
	Fields             map[string]string
	Rows               []domain.RowProblem
}

type resultsData struct {
	Exam    *domain.Exam
	Graded  bool
	Rows    []resultRow
	Import  *importOutcome
	Pending bool // the read models did not catch up in time
}

func (h *Handler) resultsPage(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	h.renderResults(c, http.StatusOK, e, nil)
}

func (h *Handler) renderResults(c *gin.Context, status int, e *domain.Exam, imp *importOutcome) {
	ctx := c.Request.Context()
	d := resultsData{Exam: e, Graded: e.GradeRound > 0, Import: imp}
	if d.Graded {
		// The same consistent table as the API's; while the read side is
		// behind, the page says so and shows what it has.
		rows, fresh, err := api.ConsistentResults(ctx, h.reads, h.cmd.Repo.LoadExam, e)
		if errors.Is(err, domain.ErrUnavailable) {
			d.Pending = true
			rows, err = h.reads.ExamResults(ctx, e.ID)
		} else if err == nil {
			d.Exam = fresh
		}
		if err != nil {
			h.failErr(c, err)
			return
		}
		d.Rows = h.resultRows(ctx, rows)
	}
	h.render(c, status, "results.html", page{Title: "Results: " + e.Title, Nav: "exams", Data: d})
}

func (h *Handler) resultRows(ctx context.Context, rows []projections.ResultRow) []resultRow {
	out := make([]resultRow, 0, len(rows))
	for _, r := range rows {
		row := resultRow{ResultRow: r}
		if r.MaxScore > 0 {
			row.Percentage = math.Round(r.Score/r.MaxScore*1000) / 10
		}
		row.Email, row.FullName = h.userLabel(ctx, r.StudentID)
		out = append(out, row)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out
}

// userLabel is a student's email and name (the directory, else the stream).
func (h *Handler) userLabel(ctx context.Context, id string) (string, string) {
	if u, err := h.lookupUser(ctx, id); err == nil && u != nil {
		return u.Email, u.FullName
	}
	return id, ""
}

// lookupUser finds a user in the directory, else in its stream (a user the
// directory has not seen yet); nil when there is none (api.UserLookup).
func (h *Handler) lookupUser(ctx context.Context, id string) (*domain.User, error) {
	if u, ok, err := h.reads.User(ctx, id); err == nil && ok {
		return u, nil
	}
	u, err := h.cmd.Repo.LoadUser(ctx, id)
	if err != nil || !u.Exists() {
		return nil, err
	}
	return u, nil
}

func (h *Handler) exportResults(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	format := c.Query("format")
	if format != "csv" && format != "xlsx" {
		h.fail(c, http.StatusBadRequest, "Choose CSV or XLSX.")
		return
	}
	if e.GradeRound == 0 {
		h.fail(c, http.StatusConflict, "The exam is not graded yet.")
		return
	}
	if err := api.WriteResultsExport(c, h.reads, h.cmd.Repo.LoadExam, h.lookupUser, e, format); err != nil {
		h.failErr(c, err)
	}
}

// maxImportFile mirrors the API's bound on a results file.
const maxImportFile = 5 << 20

func (h *Handler) importResults(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	// The API's cap on concurrent imports holds here too.
	release, err := h.imports.Acquire()
	if err != nil {
		h.renderImportError(c, e, err)
		return
	}
	defer release()
	fh, err := c.FormFile("file")
	if err != nil {
		h.renderResults(c, http.StatusBadRequest, e, &importOutcome{Error: "Choose a CSV or XLSX file to import."})
		return
	}
	if fh.Size > maxImportFile {
		h.renderResults(c, http.StatusRequestEntityTooLarge, e, &importOutcome{Error: "The file is larger than 5 MiB."})
		return
	}
	f, err := fh.Open()
	if err != nil {
		h.failErr(c, fmt.Errorf("admin: open uploaded file: %w", err))
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxImportFile+1))
	if err != nil {
		h.failErr(c, fmt.Errorf("admin: read uploaded file: %w", err))
		return
	}
	ctx := c.Request.Context()
	res, err := h.importScores(ctx, h.meta(c), e, data)
	if err != nil {
		h.renderImportError(c, e, err)
		return
	}
	out := &importOutcome{Imported: res.Imported, Recorded: res.Recorded}
	// Reload so the table shows the new scores.
	if e2, err := h.cmd.Repo.LoadExam(ctx, e.ID); err == nil {
		e = e2
	}
	if out.Recorded > 0 {
		h.await(ctx, func(ctx context.Context) bool { return h.importVisible(ctx, e.ID) })
	}
	h.renderResults(c, http.StatusOK, e, out)
}

// importScores is the API's import without HTTP: the same permission
// check, the same file parser, the same command.
func (h *Handler) importScores(ctx context.Context, m commands.Meta, e *domain.Exam, data []byte) (commands.ImportResult, error) {
	if err := e.CanImportScores(m.Actor); err != nil {
		return commands.ImportResult{}, err
	}
	rows, err := api.ParseScoreFile(data)
	if err != nil {
		return commands.ImportResult{}, err
	}
	return h.cmd.ImportResults.Handle(ctx, m, e.ID, rows)
}

// renderImportError shows why an import was refused on the results page:
// every bad row, the problem with the file, or the error's message.
func (h *Handler) renderImportError(c *gin.Context, e *domain.Exam, err error) {
	ae, ok := api.ErrorFor(err)
	if !ok || ae.Status >= 500 {
		h.failErr(c, err)
		return
	}
	out := &importOutcome{Error: ae.Message}
	var rows *domain.RowsError
	switch {
	case errors.As(err, &rows) && len(rows.Rows) > 0:
		// The table below says it all, in the words of the rows.
		out.Rows = rows.Rows
		out.Error = fmt.Sprintf("%d row(s) have problems; nothing was imported. Correct them and import the file again.", len(out.Rows))
	case fieldErrors(err)["file"] != "":
		out.Error = "The file " + fieldErrors(err)["file"] + "."
	case fieldErrors(err) != nil:
		out.Fields = fieldErrors(err)
	}
	if out.Error == "" {
		out.Error = "The file was not imported."
	}
	h.renderResults(c, ae.Status, e, out)
}

// importVisible: the results read model shows an override (the import's
// events reached it).
func (h *Handler) importVisible(ctx context.Context, examID string) bool {
	rows, err := h.reads.ExamResults(ctx, examID)
	if err != nil {
		return false
	}
	for _, r := range rows {
		if r.Overridden {
			return true
		}
	}
	return false
}

// --- answer-key correction ---

type keyForm struct {
	Exam     *domain.Exam
	Question *domain.Question
	Correct  map[string]bool
	Points   string
}

type scoreDiff struct {
	StudentID string
	Email     string
	FullName  string
	// Old is the computed score under the key in force, New under the
	// corrected key; Current is the score in force now, which differs from
	// Old when it was set by hand (Overridden): the regrade replaces it.
	Old, New   float64
	Current    float64
	Overridden bool
}

type keyPreview struct {
	keyForm
	Keys      []string
	Changes   []scoreDiff
	Unchanged int
	Attempts  int
	Graded    bool
}

func (h *Handler) keyPage(c *gin.Context) {
	e, q, ok := h.managedQuestion(c)
	if !ok {
		return
	}
	f := keyForm{Exam: e, Question: q, Correct: map[string]bool{}, Points: fmtNum(q.Points)}
	for _, k := range q.Correct {
		f.Correct[k] = true
	}
	h.render(c, http.StatusOK, "key_form.html", page{Title: "Correct the answer key", Nav: "exams", Data: f})
}

func parseKeyForm(c *gin.Context, e *domain.Exam, q *domain.Question) (keyForm, []string, *float64, error) {
	f := keyForm{Exam: e, Question: q, Correct: map[string]bool{}, Points: c.PostForm("points")}
	var keys []string
	for _, ch := range q.Choices {
		for _, k := range c.PostFormArray("correct") {
			if k == ch.Key && !f.Correct[k] {
				f.Correct[k] = true
				keys = append(keys, k)
			}
		}
	}
	var points *float64
	if s := strings.TrimSpace(f.Points); s != "" {
		p, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return f, nil, nil, domain.NewValidationError(map[string]string{"points": "must be a number"})
		}
		points = &p
	}
	return f, keys, points, nil
}

// keyPreview shows who would change from what score to what if the key
// were corrected, without changing anything: the exam is folded with the
// correction in memory and every attempt graded under both keys, the way
// the regrade grades them.
func (h *Handler) keyPreview(c *gin.Context) {
	e, q, ok := h.managedQuestion(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	f, keys, points, err := parseKeyForm(c, e, q)
	var events []domain.Event
	if err == nil {
		events, err = e.CorrectAnswerKey(h.actor(c), q.ID, keys, points)
	}
	if err != nil {
		h.formError(c, err, "key_form.html", page{Title: "Correct the answer key", Nav: "exams", Data: f})
		return
	}
	corrected := *e
	for i, ev := range events {
		corrected.Apply(e.Version+int64(i)+1, ev.Data)
	}
	p := keyPreview{keyForm: f, Keys: keys, Graded: e.GradeRound > 0}
	attempts, err := h.cmd.GradeExam.ReplayAttempts(ctx, e.ID)
	if err != nil {
		h.failErr(c, err)
		return
	}
	inForce := map[string]projections.ResultRow{}
	if p.Graded {
		rows, err := h.reads.ExamResults(ctx, e.ID)
		if err != nil {
			h.failErr(c, err)
			return
		}
		for _, r := range rows {
			inForce[r.StudentID] = r
		}
	}
	before, after := domain.GradeExam(e, attempts), domain.GradeExam(&corrected, attempts)
	p.Attempts = len(after)
	for i := range after {
		if before[i].Score == after[i].Score {
			p.Unchanged++
			continue
		}
		d := scoreDiff{StudentID: after[i].StudentID, Old: before[i].Score, New: after[i].Score, Current: before[i].Score}
		if r, ok := inForce[d.StudentID]; ok {
			d.Current, d.Overridden = r.Score, r.Overridden
		}
		d.Email, d.FullName = h.userLabel(ctx, d.StudentID)
		p.Changes = append(p.Changes, d)
	}
	sort.SliceStable(p.Changes, func(i, j int) bool { return p.Changes[i].Email < p.Changes[j].Email })
	h.render(c, http.StatusOK, "key_preview.html", page{Title: "Confirm the correction", Nav: "exams", Data: p})
}

// keyConfirm corrects the key as previewed (refused if the exam changed
// since: If-Match on the previewed version) and regrades at once.
func (h *Handler) keyConfirm(c *gin.Context) {
	e, q, ok := h.managedQuestion(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	f, keys, points, err := parseKeyForm(c, e, q)
	if err != nil {
		h.formError(c, err, "key_form.html", page{Title: "Correct the answer key", Nav: "exams", Data: f})
		return
	}
	m := h.meta(c)
	m.IfMatch = formVersion(c)
	if m.IfMatch == nil {
		h.fail(c, http.StatusBadRequest, "Preview the correction before confirming it.")
		return
	}
	if _, err := h.cmd.CorrectKey.Handle(ctx, m, e.ID, q.ID, keys, points); err != nil {
		if errors.Is(err, domain.ErrPreconditionFailed) {
			h.fail(c, http.StatusConflict, "The exam changed since the preview. Preview the correction again.")
			return
		}
		h.formError(c, err, "key_form.html", page{Title: "Correct the answer key", Nav: "exams", Data: f})
		return
	}
	dest := "/admin/exams/" + url.PathEscape(e.ID)
	if e.Status == domain.StatusClosed || e.Status == domain.StatusGraded {
		// The grader regrades when it sees the correction (one writer of
		// grades, wherever it runs); wait for it, and regrade here only if
		// it does not come.
		if !h.awaitRegrade(ctx, e.ID) {
			m.IfMatch = nil
			if _, err := h.cmd.GradeExam.Handle(ctx, m, e.ID, "regrade", false); err != nil {
				h.failErr(c, err)
				return
			}
		}
		dest += "/results"
	}
	c.Redirect(http.StatusSeeOther, dest+"?ok=regraded")
}

// regradeWait bounds the wait for the grader after a key correction.
const regradeWait = 10 * time.Second

// awaitRegrade waits until the exam's stream shows a grading that saw every
// key correction. It wakes on the store's signal of new events (the grading
// appends them) rather than polling; a store that cannot signal is asked
// again every regradePoll.
func (h *Handler) awaitRegrade(ctx context.Context, examID string) bool {
	ctx, cancel := context.WithTimeout(ctx, regradeWait)
	defer cancel()
	changes := h.changes
	for {
		// The head is read before the exam, so an append after the read
		// wakes the wait below.
		var head uint64
		if changes != nil {
			var err error
			if head, err = changes.Head(ctx); err != nil {
				changes = nil // cannot signal after all: poll
			}
		}
		e, err := h.cmd.Repo.LoadExam(ctx, examID)
		if err == nil && !e.NeedsGrading() {
			return true
		}
		if changes != nil {
			err := changes.WaitForEvents(ctx, head)
			if ctx.Err() != nil {
				return false
			}
			if err == nil {
				continue
			}
			changes = nil // the store failed to signal: poll from now on
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(regradePoll):
		}
	}
}

// regradePoll is awaitRegrade's pause for a store that cannot signal.
const regradePoll = 50 * time.Millisecond

// storeChanges is a store that signals new events (both event stores do).
type storeChanges interface {
	Head(ctx context.Context) (uint64, error)
	WaitForEvents(ctx context.Context, afterPosition uint64) error
}

// --- audit trail ---

type auditRow struct {
	eventstore.Record
	Actor string
}

type auditData struct {
	Exam   *domain.Exam
	Events []auditRow
	Next   string
}

const auditPageSize = 100

func (h *Handler) auditPage(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	after, _ := strconv.ParseUint(c.Query("after"), 10, 64)
	recs, err := h.events.Query(ctx, eventstore.Filter{Tags: []string{domain.ExamTag(e.ID)}, AfterPosition: after, Limit: auditPageSize + 1})
	if err != nil {
		h.failErr(c, err)
		return
	}
	d := auditData{Exam: e}
	if len(recs) > auditPageSize {
		recs = recs[:auditPageSize]
		d.Next = strconv.FormatUint(recs[len(recs)-1].Position, 10)
	}
	labels := map[string]string{}
	for _, r := range recs {
		row := auditRow{Record: r, Actor: r.ActorRole}
		if r.ActorID != "" && r.ActorRole != string(domain.RoleSystem) {
			if _, done := labels[r.ActorID]; !done {
				email, _ := h.userLabel(ctx, r.ActorID)
				labels[r.ActorID] = email
			}
			row.Actor = r.ActorRole + " " + labels[r.ActorID]
		}
		d.Events = append(d.Events, row)
	}
	h.render(c, http.StatusOK, "audit.html", page{Title: "Audit trail: " + e.Title, Nav: "exams", Data: d})
}

// --- statistics ---

type choiceStat struct {
	Key, Text string
	Count     int
	Correct   bool
}

type questionStat struct {
	N              int
	Question       domain.Question
	Answered       int
	Choices        []choiceStat
	Facility       *float64
	Discrimination *float64
}

type bar struct {
	X, Y, W, H   float64
	LabelX       float64
	Score, Count string
}

type statsData struct {
	Exam      *domain.Exam
	Attempts  int
	Questions []questionStat
	Bars      []bar
	ChartW    float64
	ChartH    float64
	MaxCount  int
	NotGraded bool
}

// chart geometry (SVG user units).
const (
	chartH      = 200.0
	chartTop    = 20.0
	chartBottom = 30.0
	chartLeft   = 10.0
	barW        = 36.0
	barGap      = 12.0
)

func (h *Handler) statsPage(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	d := statsData{Exam: e}
	st, err := h.cmd.ExamStats.Handle(c.Request.Context(), h.meta(c), e.ID)
	if errors.Is(err, domain.ErrNotGraded) {
		d.NotGraded = true
		h.render(c, http.StatusOK, "stats.html", page{Title: "Statistics: " + e.Title, Nav: "exams", Data: d})
		return
	}
	if err != nil {
		h.failErr(c, err)
		return
	}
	d.Attempts = st.Attempts
	byID := map[string]domain.QuestionStats{}
	for _, qs := range st.Questions {
		byID[qs.QuestionID] = qs
	}
	for i, q := range e.Questions {
		qs := byID[q.ID]
		row := questionStat{N: i + 1, Question: q, Answered: qs.Answered, Facility: qs.Facility, Discrimination: qs.Discrimination}
		correct := map[string]bool{}
		for _, k := range q.Correct {
			correct[k] = true
		}
		for _, ch := range q.Choices {
			row.Choices = append(row.Choices, choiceStat{Key: ch.Key, Text: ch.Text, Count: qs.ChoiceCounts[ch.Key], Correct: correct[ch.Key]})
		}
		d.Questions = append(d.Questions, row)
	}
	for _, sc := range st.ScoreDistribution {
		d.MaxCount = max(d.MaxCount, sc.Count)
	}
	plot := chartH - chartTop - chartBottom
	for i, sc := range st.ScoreDistribution {
		hgt := 0.0
		if d.MaxCount > 0 {
			hgt = plot * float64(sc.Count) / float64(d.MaxCount)
		}
		x := chartLeft + float64(i)*(barW+barGap)
		d.Bars = append(d.Bars, bar{X: x, Y: chartTop + plot - hgt, W: barW, H: hgt, LabelX: x + barW/2,
			Score: fmtNum(sc.Score), Count: strconv.Itoa(sc.Count)})
	}
	d.ChartW = max(chartLeft*2+float64(len(d.Bars))*(barW+barGap), 200)
	d.ChartH = chartH
	h.render(c, http.StatusOK, "stats.html", page{Title: "Statistics: " + e.Title, Nav: "exams", Data: d})
}
