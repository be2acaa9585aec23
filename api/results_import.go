package api

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/internal/safezip"
	"github.com/gin-gonic/gin"
	"github.com/xuri/excelize/v2"
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
	var next func() (int, []string, error)
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		rows, closeRows, err := xlsxRows(data)
		if err != nil {
			return nil, err
		}
		defer closeRows()
		next = rows
	case bytes.HasPrefix(data, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
		return nil, fileProblem("legacy .xls workbooks are not supported: save it as XLSX or CSV")
	case !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0:
		return nil, fileProblem("must be a CSV file (UTF-8) or an XLSX workbook")
	default:
		next = csvRows(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	}

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

func csvRows(data []byte) func() (int, []string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	return func() (int, []string, error) {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return 0, nil, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return 0, nil, fileProblem(fmt.Sprintf("is not valid CSV: line %d: %v", pe.Line, pe.Err))
			}
			return 0, nil, fileProblem("is not valid CSV")
		}
		line, _ := r.FieldPos(0)
		return line, rec, nil
	}
}

// xlsxRows iterates the first sheet of a workbook; each call returns the
// next row with its number (empty rows between others included, blank).
func xlsxRows(data []byte) (func() (int, []string, error), func(), error) {
	unreadable := fileProblem("is not a readable XLSX workbook")
	limits := safezip.UploadLimits
	if err := safezip.Check(bytes.NewReader(data), int64(len(data)), limits); err != nil {
		if errors.Is(err, safezip.ErrTooLarge) {
			return nil, nil, err // 413
		}
		return nil, nil, unreadable
	}
	if err := checkInMemoryParts(data); err != nil {
		return nil, nil, err
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit: limits.MaxTotalBytes, UnzipXMLSizeLimit: min(xlsxXMLInMemory, limits.MaxPartBytes)})
	if err != nil {
		if strings.Contains(err.Error(), "unzip size exceeds") { // excelize has no sentinel for it
			return nil, nil, fmt.Errorf("%w: %v", safezip.ErrTooLarge, err)
		}
		return nil, nil, unreadable
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		_ = f.Close()
		return nil, nil, unreadable
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		_ = f.Close()
		return nil, nil, unreadable
	}
	n := 0
	next := func() (int, []string, error) {
		if !rows.Next() {
			if rows.Error() != nil {
				return 0, nil, unreadable
			}
			return 0, nil, io.EOF
		}
		n++
		cells, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return 0, nil, unreadable
		}
		return n, cells, nil
	}
	return next, func() { _ = rows.Close(); _ = f.Close() }, nil
}

// checkInMemoryParts refuses a workbook whose parts that excelize reads
// whole into memory (everything but the worksheets and the shared strings,
// which it spills to temporary files past xlsxXMLInMemory) declare more
// than xlsxXMLInMemory: styles, themes and the like are kilobytes in a real
// workbook. Declared sizes are what archive/zip then enforces on reading.
func checkInMemoryParts(data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fileProblem("is not a readable XLSX workbook")
	}
	for _, f := range zr.File {
		name := strings.ToLower(strings.ReplaceAll(f.Name, "\\", "/"))
		if strings.HasPrefix(name, "xl/worksheets/sheet") || name == "xl/sharedstrings.xml" {
			continue
		}
		if f.UncompressedSize64 > xlsxXMLInMemory {
			return fmt.Errorf("%w: %s unpacks to %d bytes", safezip.ErrTooLarge, f.Name, f.UncompressedSize64)
		}
	}
	return nil
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
