package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/interchange/questions"
	"github.com/gin-gonic/gin"
)

// exportQuestions downloads an exam's questions as a GIFT, Aiken, Moodle
// XML or QTI 3.0 package file (owning doctor, admin; any status). A format
// that cannot carry some of the questions (Aiken: only single-answer
// questions of default points) is 400 validation_failed with details.items.
func (s *Server) exportQuestions(c *gin.Context) {
	e, ok := s.managedExam(c)
	if !ok {
		return
	}
	format, ok := questions.ParseFormat(c.Query("format"))
	if !ok {
		Abort(c, validationFailed(map[string]string{"format": `must be one of "gift", "aiken", "moodle_xml", "qti"`}))
		return
	}
	ctx := c.Request.Context()
	var imageErr error
	images := func(id string) ([]byte, bool) {
		if s.images == nil || imageErr != nil {
			return nil, false
		}
		data, err := s.images.Get(ctx, id)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, false
		}
		if err != nil {
			imageErr = err
			return nil, false
		}
		return data, true
	}
	file, err := questions.Export(format, e.Questions, images)
	var nr *questions.NotRepresentableError
	switch {
	case errors.As(err, &nr):
		Abort(c, NewAPIError(http.StatusBadRequest, "validation_failed", "this format cannot carry some of the exam's questions").
			WithDetails(map[string]any{"items": nr.Problems}))
		return
	case err != nil:
		Abort(c, err)
		return
	case imageErr != nil:
		Abort(c, imageErr)
		return
	}
	name := strings.Replace(exportFileName(e, file.Extension), "results-", "questions-", 1)
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Header("ETag", etag(e.Version))
	c.Data(http.StatusOK, file.ContentType, file.Data)
}
