package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/interchange/questions"
	"github.com/examhall/exam/internal/safezip"
	"github.com/gin-gonic/gin"
)

// maxQuestionFileBytes bounds an imported question file (a Moodle XML bank
// with base64 images, a QTI package). A package is bounded again after
// decompression (safezip.UploadLimits).
const maxQuestionFileBytes = 8 << 20

// questionImportBodyLimit bounds the whole import request.
const questionImportBodyLimit = maxQuestionFileBytes + multipartOverhead

// maxFormFieldBytes bounds a small form field (format, skip_unsupported).
const maxFormFieldBytes = 1 << 10

type questionImportView struct {
	Imported  int                 `json:"imported"`
	Skipped   []questions.Problem `json:"skipped"`
	Questions []questionView      `json:"questions"`
}

// importQuestions appends the questions of a GIFT, Aiken, Moodle XML or QTI
// file (item or package) to a draft, in file order, all or nothing.
//
//	not staff, another doctor's exam     403 forbidden (as every exam route)
//	not a draft                          409 exam_not_editable (before the file is read)
//	unknown format field                 400 validation_failed {"format": …}
//	format not given and not detectable  400 validation_failed {"file": …}
//	malformed file                       400 validation_failed {"file": "<format>: line n: reason"}
//	a package unpacking past 16 MiB      413 payload_too_large
//	questions we cannot represent        400 validation_failed, details.items [{index, title, reason}],
//	                                     unless skip_unsupported=true (query or field): then listed in skipped
func (s *Server) importQuestions(c *gin.Context) {
	e, ok := s.managedExam(c)
	if !ok {
		return
	}
	if e.Status != domain.StatusDraft {
		Abort(c, domain.ErrExamNotEditable)
		return
	}
	// A package may be a zip: the cap on concurrent imports holds.
	release, err := s.imports.Acquire()
	if err != nil {
		Abort(c, err)
		return
	}
	defer release()
	data, form, err := readUploadForm(c, maxQuestionFileBytes, "format", "skip_unsupported")
	if err != nil {
		Abort(c, err)
		return
	}
	formatName := firstNonEmpty(form["format"], c.Query("format"))
	skip := isTrue(firstNonEmpty(form["skip_unsupported"], c.Query("skip_unsupported")))
	imp, err := ImportQuestionFile(c.Request.Context(), s.cmd, s.meta(c), e, data, formatName, skip)
	if err != nil {
		Abort(c, err)
		return
	}
	res, added := imp.Result, imp.Added
	view := questionImportView{Skipped: imp.Skipped, Questions: []questionView{}}
	view.Imported = len(added)
	if qs := viewExam(&domain.Exam{Questions: added}, true, true).Questions; qs != nil {
		view.Questions = *qs
	}
	setPosition(c, res.Position)
	c.Header("ETag", etag(res.Exam.Version))
	c.JSON(http.StatusOK, view)
}

// parseQuestionFile reads a question file in the named format, or the one
// its content shows; a zip is opened as a QTI package within the upload
// limits.
func parseQuestionFile(data []byte, formatName string) ([]questions.Item, error) {
	format, ok := questions.Format(""), false
	if formatName != "" {
		if format, ok = questions.ParseFormat(formatName); !ok {
			return nil, validationFailed(map[string]string{"format": `must be one of "gift", "aiken", "moodle_xml", "qti"`})
		}
	} else if format, ok = questions.Detect(data); !ok {
		return nil, validationFailed(map[string]string{"file": "is not a question file this platform can tell (GIFT, Aiken, Moodle XML, QTI): name its format"})
	}
	var items []questions.Item
	var err error
	if format == questions.QTI && questions.IsZip(data) {
		var zr *safezip.Reader
		if zr, err = safezip.NewReader(bytes.NewReader(data), int64(len(data)), safezip.UploadLimits); err == nil {
			items, err = questions.ParseQTIPackage(zipPackage{zr})
		}
	} else {
		items, err = questions.Parse(format, data)
	}
	var me *questions.MalformedError
	switch {
	case err == nil:
		return items, nil
	case errors.Is(err, safezip.ErrTooLarge):
		return nil, NewAPIError(http.StatusRequestEntityTooLarge, "payload_too_large", "the package unpacks to more than the upload limit")
	case errors.Is(err, safezip.ErrNotZip):
		return nil, fileProblem("is not a readable zip package")
	case errors.As(err, &me):
		return nil, fileProblem(err.Error())
	}
	return nil, err
}

// zipPackage gives the question parser the files of an uploaded package.
type zipPackage struct{ zr *safezip.Reader }

func (p zipPackage) ReadFile(name string) ([]byte, error) {
	for _, f := range p.zr.Files() {
		if strings.TrimPrefix(f.Name, "./") == name {
			return p.zr.ReadEntry(f)
		}
	}
	return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		return true
	}
	return false
}

// readUploadForm is readUploadedFile (upload.go) for forms that carry small
// fields beside the file: it returns the file and the named fields (each at
// most maxFormFieldBytes), in whatever order the parts come. Same errors.
func readUploadForm(c *gin.Context, limit int64, fields ...string) ([]byte, map[string]string, error) {
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, nil, NewAPIError(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type must be multipart/form-data with the file in the field \"file\"")
	}
	mr := multipart.NewReader(c.Request.Body, params["boundary"])
	values := map[string]string{}
	var data []byte
	found := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, uploadReadError(err)
		}
		name := part.FormName()
		switch {
		case name == "file" && !found:
			if data, err = io.ReadAll(io.LimitReader(part, limit+1)); err != nil {
				return nil, nil, uploadReadError(err)
			}
			if int64(len(data)) > limit {
				return nil, nil, NewAPIError(http.StatusRequestEntityTooLarge, "payload_too_large",
					fmt.Sprintf("the file is larger than %d bytes", limit))
			}
			found = true
		case contains(fields, name):
			v, err := io.ReadAll(io.LimitReader(part, maxFormFieldBytes+1))
			if err != nil {
				return nil, nil, uploadReadError(err)
			}
			if len(v) > maxFormFieldBytes {
				return nil, nil, validationFailed(map[string]string{name: "is too long"})
			}
			values[name] = string(v)
		}
	}
	if !found {
		return nil, nil, validationFailed(map[string]string{"file": "is required"})
	}
	return data, values, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
