package api

import (
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
	if err := WriteQuestionsExport(c, s.images, e, c.Query("format")); err != nil {
		Abort(c, err)
	}
}
