package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/interchange/questions"
	"github.com/gin-gonic/gin"
)

// The question and roster interchange as functions, so that the web admin
// runs exactly the API's parsers, limits and commands by calling them
// directly, as it does for the results (results_file.go).

// QuestionImport is the outcome of importing a question file.
type QuestionImport struct {
	Result  commands.ExamResult
	Added   []domain.Question
	Skipped []questions.Problem
}

// ImportQuestionFile parses a question file (in the named format, or the
// one its content shows) and appends its questions to the draft e, all or
// none. Questions the platform cannot represent make it a 400 with
// details.items, unless skip: then they are left out and listed.
func ImportQuestionFile(ctx context.Context, cmds *commands.Handlers, m commands.Meta, e *domain.Exam, data []byte, format string, skip bool) (QuestionImport, error) {
	if e.Status != domain.StatusDraft {
		return QuestionImport{}, domain.ErrExamNotEditable
	}
	items, err := parseQuestionFile(data, format)
	if err != nil {
		return QuestionImport{}, err
	}
	out := QuestionImport{Skipped: []questions.Problem{}}
	var imported []commands.ImportedQuestion
	for _, it := range items {
		if it.Unsupported != "" {
			out.Skipped = append(out.Skipped, questions.Problem{Index: it.Index, Title: it.Title, Reason: it.Unsupported})
			continue
		}
		imported = append(imported, commands.ImportedQuestion{Question: it.Question, Image: it.Image})
	}
	if len(out.Skipped) > 0 && !skip {
		return QuestionImport{}, NewAPIError(http.StatusBadRequest, "validation_failed",
			"the file holds questions this platform cannot represent; send skip_unsupported=true to import the others").
			WithDetails(map[string]any{"items": out.Skipped})
	}
	if len(imported) == 0 {
		return QuestionImport{}, validationFailed(map[string]string{"file": "holds no question this platform can represent"})
	}
	out.Result, out.Added, err = cmds.ImportQuestions.Handle(ctx, m, e.ID, imported)
	return out, err
}

// UnsupportedQuestions lists the questions an import or export error names
// (details.items), if any.
func UnsupportedQuestions(err error) []questions.Problem {
	if ae, ok := ErrorFor(err); ok {
		if items, ok := ae.Details["items"].([]questions.Problem); ok {
			return items
		}
	}
	return nil
}

// WriteQuestionsExport writes e's questions as a GIFT, Aiken, Moodle XML or
// QTI 3.0 package file. A format that cannot carry some of the questions is
// a 400 with details.items; an error is written nothing for.
func WriteQuestionsExport(c *gin.Context, images ImageSource, e *domain.Exam, formatName string) error {
	format, ok := questions.ParseFormat(formatName)
	if !ok {
		return validationFailed(map[string]string{"format": `must be one of "gift", "aiken", "moodle_xml", "qti"`})
	}
	ctx := c.Request.Context()
	var imageErr error
	lookup := func(id string) ([]byte, bool) {
		if images == nil || imageErr != nil {
			return nil, false
		}
		data, err := images.Get(ctx, id)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, false
		}
		if err != nil {
			imageErr = err
			return nil, false
		}
		return data, true
	}
	file, err := questions.Export(format, e.Questions, lookup)
	var nr *questions.NotRepresentableError
	switch {
	case errors.As(err, &nr):
		return NewAPIError(http.StatusBadRequest, "validation_failed", "this format cannot carry some of the exam's questions").
			WithDetails(map[string]any{"items": nr.Problems})
	case err != nil:
		return err
	case imageErr != nil:
		return imageErr
	}
	name := strings.Replace(exportFileName(e, file.Extension), "results-", "questions-", 1)
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Header("ETag", etag(e.Version))
	c.Data(http.StatusOK, file.ContentType, file.Data)
	return nil
}

// LevelSource lists the levels (to resolve a roster's level names).
type LevelSource interface {
	Levels(ctx context.Context) ([]domain.Level, error)
}

// ImportRosterFile parses a CSV or XLSX roster and registers its users, all
// or none (dryRun: validated only). Any bad row is a *domain.RosterError.
func ImportRosterFile(ctx context.Context, cmds *commands.Handlers, levels LevelSource, m commands.Meta, data []byte, dryRun bool) (commands.RosterResult, error) {
	rows, err := parseRosterFile(data)
	if err != nil {
		return commands.RosterResult{}, err
	}
	ls, err := levels.Levels(ctx)
	if err != nil {
		return commands.RosterResult{}, err
	}
	resolveLevels(rows, ls)
	return cmds.ImportRoster.Handle(ctx, m, rows, dryRun)
}
