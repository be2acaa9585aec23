package api

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/examhall/exam/internal/safezip"
	"github.com/xuri/excelize/v2"
)

// Uploaded spreadsheets (results and rosters) are read by one row reader:
// an XLSX workbook (recognised by its bytes: a zip archive; its first sheet,
// raw cell values, so text keeps its leading zeros) or else UTF-8 CSV,
// within the upload limits of xlsxRows.

// spreadsheetRows iterates the rows of an uploaded CSV or XLSX file; each
// call of next returns the next row with the number a spreadsheet shows
// (the CSV line), io.EOF at the end. closeRows releases the workbook.
func spreadsheetRows(data []byte) (next func() (int, []string, error), closeRows func(), err error) {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return xlsxRows(data)
	case bytes.HasPrefix(data, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
		return nil, nil, fileProblem("legacy .xls workbooks are not supported: save it as XLSX or CSV")
	case !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0:
		return nil, nil, fileProblem("must be a CSV file (UTF-8) or an XLSX workbook")
	default:
		return csvRows(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))), func() {}, nil
	}
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
