package admin

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/examhall/exam/api"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/interchange/questions"
	"github.com/gin-gonic/gin"
)

// Question files and rosters go through the API's own functions
// (api.ImportQuestionFile, api.ImportRosterFile, the exports) and the
// commands directly: the same parsers, limits, validation and
// all-or-nothing appends, and the same cap on concurrent imports.

// maxInterchangeFile is what the admin forwards (its form limit is 6 MiB).
const maxInterchangeFile = 5 << 20

// maxPreviewedRoster: the confirmation form carries the previewed file in
// base64 (4/3 of it), within the 6 MiB form limit.
const maxPreviewedRoster = 4 << 20

type questionImportData struct {
	ExamID, ExamTitle string
	Imported          int
	Skipped           []questions.Problem
	Error             string
	Items             []questions.Problem
}

// uploadedFile reads the form's file, at most maxInterchangeFile bytes.
func uploadedFile(c *gin.Context) ([]byte, string) {
	fh, err := c.FormFile("file")
	if err != nil {
		return nil, "Choose a file to import."
	}
	if fh.Size > maxInterchangeFile {
		return nil, "The file is larger than 5 MiB."
	}
	f, err := fh.Open()
	if err != nil {
		return nil, "The file could not be read."
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxInterchangeFile+1))
	if err != nil {
		return nil, "The file could not be read."
	}
	return data, ""
}

// failureMessage is what a page says about a refused file; status is the
// page's status (0: not a refusal the page can show — an internal error).
func failureMessage(err error) (msg string, status int) {
	ae, ok := api.ErrorFor(err)
	if !ok || ae.Status >= 500 {
		return "", 0
	}
	fields := fieldErrors(err)
	if fields == nil {
		if f, ok := ae.Details["fields"].(map[string]string); ok {
			fields = f
		}
	}
	if msg := fields["file"]; msg != "" {
		return "The file " + msg + ".", ae.Status
	}
	for k, v := range fields {
		return k + ": " + v, ae.Status
	}
	if ae.Message != "" {
		return ae.Message, ae.Status
	}
	return "The file was not imported.", ae.Status
}

// importQuestions adds a question file's questions to a draft.
func (h *Handler) importQuestions(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	d := questionImportData{ExamID: e.ID, ExamTitle: e.Title}
	data, problem := uploadedFile(c)
	if problem != "" {
		d.Error = problem
		h.render(c, http.StatusBadRequest, "question_import.html", page{Title: "Import questions", Nav: "exams", Data: d})
		return
	}
	release, err := h.imports.Acquire()
	if err != nil {
		h.failErr(c, err)
		return
	}
	defer release()
	imp, err := api.ImportQuestionFile(c.Request.Context(), h.cmd, h.meta(c), e, data, c.PostForm("format"), c.PostForm("skip_unsupported") != "")
	if err != nil {
		msg, status := failureMessage(err)
		if status == 0 {
			h.failErr(c, err)
			return
		}
		d.Error, d.Items = msg, api.UnsupportedQuestions(err)
		if len(d.Items) > 0 {
			d.Error = fmt.Sprintf("%d question(s) cannot be represented; nothing was imported. Import again with “skip them” ticked to add the others.", len(d.Items))
		}
		h.render(c, status, "question_import.html", page{Title: "Import questions", Nav: "exams", Data: d})
		return
	}
	d.Imported, d.Skipped = len(imp.Added), imp.Skipped
	h.render(c, http.StatusOK, "question_import.html", page{Title: "Import questions", Nav: "exams", Data: d})
}

// exportQuestions downloads the exam's questions in a format.
func (h *Handler) exportQuestions(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	format := c.Query("format")
	switch format {
	case "gift", "aiken", "moodle_xml", "qti":
	default:
		h.fail(c, http.StatusBadRequest, "Choose GIFT, Aiken, Moodle XML or QTI.")
		return
	}
	if err := api.WriteQuestionsExport(c, h.images, e, format); err != nil {
		msg, status := failureMessage(err)
		if status == 0 {
			h.failErr(c, err)
			return
		}
		if items := api.UnsupportedQuestions(err); len(items) > 0 {
			msg = fmt.Sprintf("This format cannot carry %d of the questions (the first: “%s”: %s).", len(items), items[0].Title, items[0].Reason)
		}
		h.fail(c, status, msg)
	}
}

// rosterUser is a user a roster creates (or would).
type rosterUser struct {
	Email, FullName, Role, LevelID, IDNumber, Subject string
}

type rosterData struct {
	// Step is "form", "preview" or "done".
	Step       string
	Users      []rosterUser
	LevelNames map[string]string
	// File is the previewed file, carried to the confirmation.
	File      string
	Created   int
	Passwords []commands.GeneratedPassword
	Error     string
	Rows      []domain.RosterProblem
}

func (h *Handler) renderRoster(c *gin.Context, status int, d rosterData) {
	if d.LevelNames == nil {
		d.LevelNames = map[string]string{}
		if levels, err := h.reads.Levels(c.Request.Context()); err == nil {
			for _, l := range levels {
				d.LevelNames[l.ID] = l.Name
			}
		}
	}
	h.render(c, status, "roster_import.html", page{Title: "Import users", Nav: "users", Data: d})
}

func (h *Handler) rosterPage(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	h.renderRoster(c, http.StatusOK, rosterData{Step: "form"})
}

// rosterPreview validates a roster (the API's dry run) and shows what would
// be created, with a button that imports the same file.
func (h *Handler) rosterPreview(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	data, problem := uploadedFile(c)
	if problem == "" && len(data) > maxPreviewedRoster {
		problem = "The file is larger than 4 MiB: a preview cannot carry it to the confirmation. Split it, or import it through the API (POST /api/v1/users/import)."
	}
	if problem != "" {
		h.renderRoster(c, http.StatusBadRequest, rosterData{Step: "form", Error: problem})
		return
	}
	h.runRoster(c, data, true)
}

// rosterConfirm imports the previewed file.
func (h *Handler) rosterConfirm(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	data, err := base64.StdEncoding.DecodeString(c.PostForm("roster"))
	if err != nil || len(data) == 0 || len(data) > maxInterchangeFile {
		h.renderRoster(c, http.StatusBadRequest, rosterData{Step: "form", Error: "Choose the file again: the preview was lost."})
		return
	}
	h.runRoster(c, data, false)
}

func (h *Handler) runRoster(c *gin.Context, data []byte, dryRun bool) {
	release, err := h.imports.Acquire()
	if err != nil {
		h.failErr(c, err)
		return
	}
	defer release()
	res, err := api.ImportRosterFile(c.Request.Context(), h.cmd, h.reads, h.meta(c), data, dryRun)
	var re *domain.RosterError
	switch {
	case errors.As(err, &re):
		h.renderRoster(c, http.StatusBadRequest, rosterData{Step: "form", Rows: re.Rows,
			Error: fmt.Sprintf("%d problem(s) in the file; nobody was created. Correct them and try again.", len(re.Rows))})
		return
	case err != nil:
		msg, status := failureMessage(err)
		if status == 0 {
			h.failErr(c, err)
			return
		}
		h.renderRoster(c, status, rosterData{Step: "form", Error: msg})
		return
	}
	d := rosterData{Created: len(res.Created), Passwords: res.Generated}
	for _, in := range res.Planned {
		d.Users = append(d.Users, rosterUser{Email: in.Email, FullName: in.FullName, Role: string(in.Role),
			LevelID: in.LevelID, IDNumber: in.IDNumber, Subject: in.Subject})
	}
	if dryRun {
		d.Step, d.File = "preview", base64.StdEncoding.EncodeToString(data)
	} else {
		d.Step = "done"
	}
	h.renderRoster(c, http.StatusOK, d)
}

// exportUsers downloads every user in the roster's columns.
func (h *Handler) exportUsers(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	format := c.Query("format")
	if format != "csv" && format != "xlsx" {
		h.fail(c, http.StatusBadRequest, "Choose CSV or XLSX.")
		return
	}
	if err := api.WriteUsersExport(c, h.reads, format); err != nil {
		h.failErr(c, err)
	}
}
