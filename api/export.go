package api

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
	"github.com/xuri/excelize/v2"
)

// resultColumns is the header of exported results; email and score come
// first so the file imports back as it is.
var resultColumns = []string{"email", "score", "max_score", "percentage", "full_name", "student_id", "answered", "graded_at", "overridden"}

func resultRecord(it resultItemView) []string {
	return []string{it.Email, formatScore(it.Score), formatScore(it.MaxScore), formatScore(it.Percentage), it.FullName,
		it.StudentID, strconv.Itoa(it.Answered), it.GradedAt.Format("2006-01-02T15:04:05Z07:00"), strconv.FormatBool(it.Overridden)}
}

func formatScore(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// neutralizeCell defuses spreadsheet formula injection: a cell a user
// controls that starts with = + - @ (or a tab or carriage return) is
// prefixed with a quote so spreadsheets show it as text.
func neutralizeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func exportFileName(e *domain.Exam, ext string) string {
	name := strings.Trim(unsafeFileChars.ReplaceAllString(e.Title, "-"), "-")
	if name == "" {
		name = "exam"
	}
	if len(name) > 60 {
		name = name[:60]
	}
	return fmt.Sprintf("results-%s-%s.%s", name, e.ID[:min(8, len(e.ID))], ext)
}

func writeResultsCSV(c *gin.Context, e *domain.Exam, items []resultItemView) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+exportFileName(e, "csv")+`"`)
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	_ = w.Write(resultColumns)
	for _, it := range items {
		rec := resultRecord(it)
		for i := range rec {
			// Numbers we produce are never neutralised; text cells are.
			if i == 0 || i == 4 || i == 5 {
				rec[i] = neutralizeCell(rec[i])
			}
		}
		_ = w.Write(rec)
	}
	w.Flush()
}

func writeResultsXLSX(c *gin.Context, e *domain.Exam, items []resultItemView) {
	f := excelize.NewFile()
	defer f.Close()
	sheet := "Results"
	f.SetSheetName("Sheet1", sheet)
	for i, h := range resultColumns {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		_ = f.SetCellStr(sheet, cell, h)
	}
	for r, it := range items {
		row := r + 2
		rec := resultRecord(it)
		for i, v := range rec {
			cell, _ := excelize.CoordinatesToCellName(i+1, row)
			switch i {
			case 1, 2, 3:
				n, _ := strconv.ParseFloat(v, 64)
				_ = f.SetCellFloat(sheet, cell, n, -1, 64)
			case 6:
				_ = f.SetCellInt(sheet, cell, int64(it.Answered))
			default:
				// SetCellStr stores text, never a formula.
				_ = f.SetCellStr(sheet, cell, v)
			}
		}
	}
	c.Header("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	c.Header("Content-Disposition", `attachment; filename="`+exportFileName(e, "xlsx")+`"`)
	c.Status(http.StatusOK)
	if err := f.Write(c.Writer); err != nil {
		_ = c.Error(err)
	}
}
