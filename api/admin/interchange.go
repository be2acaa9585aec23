package admin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
)

// Question files and rosters go through the API's own routes (subRequest):
// the same parsers, limits, validation and all-or-nothing appends.

// maxInterchangeFile is what the admin forwards (its form limit is 6 MiB).
const maxInterchangeFile = 5 << 20

// maxPreviewedRoster: the confirmation form carries the previewed file in
// base64 (4/3 of it), within the 6 MiB form limit.
const maxPreviewedRoster = 4 << 20

// itemProblem is a question of a file the platform cannot represent.
type itemProblem struct {
	Index  int    `json:"index"`
	Title  string `json:"title"`
	Reason string `json:"reason"`
}

// rosterProblem is one problem of a roster row.
type rosterProblem struct {
	Row    int    `json:"row"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// apiFailure is the API's error shape, with the details these pages show.
type apiFailure struct {
	Error struct {
		Message string `json:"message"`
		Details struct {
			Fields map[string]string `json:"fields"`
			Items  []itemProblem     `json:"items"`
			Rows   []rosterProblem   `json:"rows"`
		} `json:"details"`
	} `json:"error"`
}

type questionImportData struct {
	ExamID, ExamTitle string
	Imported          int
	Skipped           []itemProblem
	Error             string
	Items             []itemProblem
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

// forward posts a file (and fields) to an API route in-process.
func (h *Handler) forward(c *gin.Context, path string, data []byte, fields map[string]string) (*bufferedResponse, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			return nil, err
		}
	}
	part, err := mw.CreateFormFile("file", "upload")
	if err == nil {
		_, err = part.Write(data)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("admin: forward file: %w", err)
	}
	rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	if err := h.subRequest(c, rec, http.MethodPost, path, &body, mw.FormDataContentType()); err != nil {
		return nil, err
	}
	return rec, nil
}

// failureMessage is what a page says about a refused file.
func failureMessage(f apiFailure) string {
	if msg := f.Error.Details.Fields["file"]; msg != "" && len(f.Error.Details.Rows) == 0 {
		return "The file " + msg + "."
	}
	for k, v := range f.Error.Details.Fields {
		if k != "file" {
			return k + ": " + v
		}
	}
	if f.Error.Message != "" {
		return f.Error.Message
	}
	return "The file was not imported."
}

func pageStatus(status int) int {
	if status >= 500 {
		return http.StatusBadGateway
	}
	return status
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
	fields := map[string]string{"skip_unsupported": "false"}
	if c.PostForm("skip_unsupported") != "" {
		fields["skip_unsupported"] = "true"
	}
	if f := c.PostForm("format"); f != "" {
		fields["format"] = f
	}
	rec, err := h.forward(c, "/api/v1/exams/"+url.PathEscape(e.ID)+"/questions/import", data, fields)
	if err != nil {
		h.failErr(c, err)
		return
	}
	if rec.status == http.StatusOK {
		var ok struct {
			Imported int           `json:"imported"`
			Skipped  []itemProblem `json:"skipped"`
		}
		if err := json.Unmarshal(rec.body.Bytes(), &ok); err != nil {
			h.failErr(c, fmt.Errorf("admin: import answer: %w", err))
			return
		}
		d.Imported, d.Skipped = ok.Imported, ok.Skipped
		h.render(c, http.StatusOK, "question_import.html", page{Title: "Import questions", Nav: "exams", Data: d})
		return
	}
	var f apiFailure
	_ = json.Unmarshal(rec.body.Bytes(), &f)
	d.Error, d.Items = failureMessage(f), f.Error.Details.Items
	if len(d.Items) > 0 {
		d.Error = fmt.Sprintf("%d question(s) cannot be represented; nothing was imported. Import again with “skip them” ticked to add the others.", len(d.Items))
	}
	h.render(c, pageStatus(rec.status), "question_import.html", page{Title: "Import questions", Nav: "exams", Data: d})
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
	rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	if err := h.subRequest(c, rec, http.MethodGet, "/api/v1/exams/"+url.PathEscape(e.ID)+"/questions/export?format="+format, nil, ""); err != nil {
		h.failErr(c, err)
		return
	}
	if rec.status != http.StatusOK {
		var f apiFailure
		_ = json.Unmarshal(rec.body.Bytes(), &f)
		msg := failureMessage(f)
		if len(f.Error.Details.Items) > 0 {
			msg = fmt.Sprintf("This format cannot carry %d of the questions (the first: “%s”: %s).", len(f.Error.Details.Items),
				f.Error.Details.Items[0].Title, f.Error.Details.Items[0].Reason)
		}
		h.fail(c, pageStatus(rec.status), msg)
		return
	}
	for _, k := range []string{"Content-Type", "Content-Disposition"} {
		c.Header(k, rec.header.Get(k))
	}
	c.Data(http.StatusOK, rec.header.Get("Content-Type"), rec.body.Bytes())
}

// rosterUser is a row of the API's answer (null fields read as "").
type rosterUser struct {
	Email    string `json:"email"`
	FullName string `json:"full_name"`
	Role     string `json:"role"`
	LevelID  string `json:"level_id"`
	IDNumber string `json:"id_number"`
	Subject  string `json:"subject"`
}

type rosterData struct {
	// Step is "form", "preview" or "done".
	Step       string
	Users      []rosterUser
	LevelNames map[string]string
	// File is the previewed file, carried to the confirmation.
	File      string
	Created   int
	Passwords []struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	Error string
	Rows  []rosterProblem
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
	rec, err := h.forward(c, "/api/v1/users/import", data, map[string]string{"dry_run": fmt.Sprint(dryRun)})
	if err != nil {
		h.failErr(c, err)
		return
	}
	if rec.status != http.StatusOK {
		var f apiFailure
		_ = json.Unmarshal(rec.body.Bytes(), &f)
		d := rosterData{Step: "form", Error: failureMessage(f), Rows: f.Error.Details.Rows}
		if len(d.Rows) > 0 {
			d.Error = fmt.Sprintf("%d problem(s) in the file; nobody was created. Correct them and try again.", len(d.Rows))
		}
		h.renderRoster(c, pageStatus(rec.status), d)
		return
	}
	var d rosterData
	var ok struct {
		Created   int          `json:"created"`
		Users     []rosterUser `json:"users"`
		Passwords []struct {
			Email    string `json:"email"`
			Password string `json:"password"`
		} `json:"generated_passwords"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &ok); err != nil {
		h.failErr(c, fmt.Errorf("admin: roster answer: %w", err))
		return
	}
	d.Users, d.Created, d.Passwords = ok.Users, ok.Created, ok.Passwords
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
	if err := h.subRequest(c, c.Writer, http.MethodGet, "/api/v1/users/export?format="+format, nil, ""); err != nil {
		h.failErr(c, err)
	}
}
