package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

// maxImportBytes bounds an imported results file.
const maxImportBytes = 5 << 20

// importBodyLimit bounds the whole import request.
const importBodyLimit = maxImportBytes + multipartOverhead

// What an XLSX may unpack to. A 62 KB workbook used to unpack to 60 MiB
// and hold ~280 MiB per request: excelize's limits were 64 MiB for the
// whole archive and for the XML it keeps in memory, so a 60 MiB sheet fit
// under both and was inflated, in memory, and parsed. Now safezip refuses
// an archive whose parts declare more than safezip.UploadLimits (16 MiB in
// all) before anything is inflated, and counts what is read (a lying
// header is caught); excelize gets the same total, and spills any part
// over xlsxXMLInMemory to a temporary file and streams the sheet's rows
// from it, so a request holds at most a few MiB of a workbook at once.
const xlsxXMLInMemory = 2 << 20

type importResultView struct {
	// Imported counts the rows accepted (the whole file).
	Imported int `json:"imported"`
	// Recorded counts the overrides recorded: rows whose score changed.
	Recorded int `json:"recorded"`
}

// importResults takes a CSV or XLSX file of email and score columns (an
// exported results file imports back as it is) and records the scores that
// differ as manual overrides; any bad row rejects the whole file (400 with
// details.rows). Only on a graded exam, by the owning doctor or an admin.
func (s *Server) importResults(c *gin.Context) {
	// Admission before anything is read: excess is 503 with Retry-After.
	release, err := s.imports.Acquire()
	if err != nil {
		Abort(c, err)
		return
	}
	defer release()
	e, ok := s.managedExam(c)
	if !ok {
		return
	}
	if err := e.CanImportScores(actorFrom(c)); err != nil {
		Abort(c, err)
		return
	}
	data, err := readUploadedFile(c, maxImportBytes)
	if err != nil {
		Abort(c, err)
		return
	}
	rows, err := parseScoreFile(data)
	if err != nil {
		Abort(c, err)
		return
	}
	m := s.meta(c)
	res, err := s.cmd.ImportResults.Handle(c.Request.Context(), m, e.ID, rows)
	if err != nil {
		Abort(c, err)
		return
	}
	setPosition(c, res.Position)
	c.JSON(http.StatusOK, importResultView{Imported: res.Imported, Recorded: res.Recorded})
}

func fileProblem(reason string) error { return validationFailed(map[string]string{"file": reason}) }

// parseScoreFile reads the email and score columns of a results file: an
// XLSX workbook (recognised by its bytes: a zip archive; its first sheet is
// read, raw cell values) or else UTF-8 CSV. The first non-blank row is the
// header and must name email and score (any case, any order; other columns
// are ignored); blank rows are skipped. Row numbers are those a spreadsheet
// shows (the CSV line). A spreadsheet-safety quote the CSV export puts
// before an email starting with = + - @ is removed.
func parseScoreFile(data []byte) ([]domain.ScoreImportRow, error) {
	next, closeRows, err := spreadsheetRows(data)
	if err != nil {
		return nil, err
	}
	defer closeRows()

	emailCol, scoreCol := -1, -1
	var out []domain.ScoreImportRow
	for {
		n, cells, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if blank(cells) {
			continue
		}
		if emailCol < 0 {
			for i, h := range cells {
				switch strings.ToLower(strings.TrimSpace(h)) {
				case "email":
					if emailCol < 0 {
						emailCol = i
					}
				case "score":
					if scoreCol < 0 {
						scoreCol = i
					}
				}
			}
			if emailCol < 0 || scoreCol < 0 {
				return nil, fileProblem("the header row must name the columns email and score")
			}
			continue
		}
		if len(out) == domain.MaxImportRows {
			return nil, fileProblem(fmt.Sprintf("has more than %d rows", domain.MaxImportRows))
		}
		out = append(out, domain.ScoreImportRow{Row: n, Email: unquoteCell(cell(cells, emailCol)), Score: cell(cells, scoreCol)})
	}
	if emailCol < 0 {
		return nil, fileProblem("is empty: a header row naming email and score is required")
	}
	return out, nil
}

func cell(cells []string, i int) string {
	if i < len(cells) {
		return strings.TrimSpace(cells[i])
	}
	return ""
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// unquoteCell undoes neutralizeCell (export.go).
func unquoteCell(s string) string {
	if len(s) > 1 && s[0] == '\'' && strings.IndexByte("=+-@\t\r", s[1]) >= 0 {
		return s[1:]
	}
	return s
}
