package api

import (
	"archive/zip"
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/internal/safezip"
	"github.com/xuri/excelize/v2"
)

func TestParseScoreFile(t *testing.T) {
	t.Parallel()
	type row = domain.ScoreImportRow
	tests := []struct {
		name    string
		data    string
		want    []row
		problem string // the reason given for the field "file"; "" = no error
	}{
		{name: "csv", data: "email,score\na@x.test,4.5\nb@x.test,0\n",
			want: []row{{Row: 2, Email: "a@x.test", Score: "4.5"}, {Row: 3, Email: "b@x.test", Score: "0"}}},
		{name: "an export: extra columns, other order of nothing else, quoted cells, CRLF",
			data: "email,score,max_score,percentage,full_name,student_id,answered,graded_at,overridden\r\n" +
				"a@x.test,4.5,8,56.25,\"Doe, Jane\",id-1,3,2030-01-01T00:00:00Z,false\r\n",
			want: []row{{Row: 2, Email: "a@x.test", Score: "4.5"}}},
		{name: "byte order mark, header case and spaces, columns in any order",
			data: "\xef\xbb\xbf Score , EMAIL ,note\n 7 , a@x.test ,hi\n",
			want: []row{{Row: 2, Email: "a@x.test", Score: "7"}}},
		{name: "blank lines are skipped but keep their numbers",
			data: "\n\nemail,score\n\na@x.test,1\n,\n\nb@x.test,2\n",
			want: []row{{Row: 5, Email: "a@x.test", Score: "1"}, {Row: 8, Email: "b@x.test", Score: "2"}}},
		{name: "short rows give empty cells", data: "email,score\na@x.test\n",
			want: []row{{Row: 2, Email: "a@x.test", Score: ""}}},
		{name: "the export's spreadsheet-safety quote is removed",
			data: "email,score\n'-a@x.test,1\n'plain@x.test,2\n",
			want: []row{{Row: 2, Email: "-a@x.test", Score: "1"}, {Row: 3, Email: "'plain@x.test", Score: "2"}}},
		{name: "a header and nothing else: no rows", data: "email,score\n", want: nil},
		{name: "empty", data: "", problem: "is empty: a header row naming email and score is required"},
		{name: "blank", data: "\n \n", problem: "is empty: a header row naming email and score is required"},
		{name: "no score column", data: "email,points\na@x.test,1\n", problem: "the header row must name the columns email and score"},
		{name: "no header", data: "a@x.test,1\n", problem: "the header row must name the columns email and score"},
		{name: "semicolons are not the separator", data: "email;score\na@x.test;1\n", problem: "the header row must name the columns email and score"},
		{name: "malformed csv", data: "email,score\n\"a@x.test,1\n", problem: "is not valid CSV: line 2: extraneous or missing \" in quoted-field"},
		{name: "not text", data: "GIF89a\x00\x01\x02", problem: "must be a CSV file (UTF-8) or an XLSX workbook"},
		{name: "not utf-8", data: "email,score\n\xe9l\xe8ve@x.test,1\n", problem: "must be a CSV file (UTF-8) or an XLSX workbook"},
		{name: "legacy xls", data: "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", problem: "legacy .xls workbooks are not supported: save it as XLSX or CSV"},
		{name: "a zip that is no workbook", data: "PK\x03\x04not really a zip", problem: "is not a readable XLSX workbook"},
		{name: "too many rows", data: "email,score\n" + strings.Repeat("a@x.test,1\n", domain.MaxImportRows+1), problem: "has more than 10000 rows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseScoreFile([]byte(tc.data))
			checkParse(t, got, err, tc.want, tc.problem)
		})
	}

	t.Run("exactly the maximum of rows", func(t *testing.T) {
		got, err := parseScoreFile([]byte("email,score\n" + strings.Repeat("a@x.test,1\n", domain.MaxImportRows)))
		if err != nil || len(got) != domain.MaxImportRows {
			t.Fatalf("%d rows, error %v", len(got), err)
		}
	})
}

func TestParseScoreFileXLSX(t *testing.T) {
	t.Parallel()
	f := excelize.NewFile()
	defer f.Close()
	f.SetSheetName("Sheet1", "Results")
	set := func(cell string, v any) {
		if err := f.SetCellValue("Results", cell, v); err != nil {
			t.Fatal(err)
		}
	}
	set("A1", "Email")
	set("B1", "name")
	set("C1", "SCORE")
	set("A2", "a@x.test")
	set("C2", 4.5)
	set("A3", "b@x.test")
	set("C3", "7")
	// row 4 empty
	set("A5", "c@x.test")
	// As the export writes numbers (excelize keeps 15 significant digits,
	// more than a score rounded to 4 decimals has).
	if err := f.SetCellFloat("Results", "C5", 1.0/3, -1, 64); err != nil {
		t.Fatal(err)
	}
	// A number format must not change what is read.
	style, err := f.NewStyle(&excelize.Style{NumFmt: 9}) // 0%
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellStyle("Results", "C2", "C5", style); err != nil {
		t.Fatal(err)
	}
	// Only the first sheet is read.
	if _, err := f.NewSheet("Other"); err != nil {
		t.Fatal(err)
	}
	_ = f.SetCellValue("Other", "A1", "email")
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseScoreFile(buf.Bytes())
	checkParse(t, got, err, []domain.ScoreImportRow{
		{Row: 2, Email: "a@x.test", Score: "4.5"}, {Row: 3, Email: "b@x.test", Score: "7"}, {Row: 5, Email: "c@x.test", Score: "0.333333333333333"},
	}, "")
}

func checkParse(t *testing.T, got []domain.ScoreImportRow, err error, want []domain.ScoreImportRow, problem string) {
	t.Helper()
	if problem == "" {
		if err != nil {
			t.Fatalf("error %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("rows = %+v, want %+v", got, want)
		}
		return
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "validation_failed" {
		t.Fatalf("error = %v, want validation_failed", err)
	}
	if reason := apiErr.Details["fields"].(map[string]string)["file"]; reason != problem {
		t.Fatalf("file: %q, want %q", reason, problem)
	}
}

// FuzzParseScoreFile: any upload either parses into rows numbered by their
// source line, or is refused with a 400 validation error — never a panic or
// another kind of error.
func FuzzParseScoreFile(f *testing.F) {
	f.Add([]byte("email,score\nA@school.test,3.5\n"))
	f.Add([]byte("\xef\xbb\xbfscore;email\n1;b@x.test\n"))
	f.Add([]byte("email,score\n\"=a@x.test\",\"1\"\n,\n"))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Add([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"))
	f.Add([]byte("name\nx\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := parseScoreFile(data)
		if err != nil {
			var ve *domain.ValidationError
			var ae *APIError
			if !errors.As(err, &ve) && !(errors.As(err, &ae) && ae.Status == 400) {
				t.Fatalf("not a 400 validation error: %T %v", err, err)
			}
			if rows != nil {
				t.Fatalf("rows %v with error %v", rows, err)
			}
			return
		}
		if len(rows) > domain.MaxImportRows {
			t.Fatalf("%d rows over the limit", len(rows))
		}
		last := 0
		for _, r := range rows {
			if r.Row <= last {
				t.Fatalf("row numbers not increasing: %v", rows)
			}
			last = r.Row
		}
	})
}

// A workbook whose parts declare more than the upload limits is refused
// before anything is inflated (413 through WriteError).
func TestParseScoreFileRefusesBombs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("xl/worksheets/sheet1.xml")
	_, _ = w.Write(bytes.Repeat([]byte("<row/>"), int(safezip.UploadLimits.MaxTotalBytes/6+1)))
	_ = zw.Close()
	_, err := parseScoreFile(buf.Bytes())
	if !errors.Is(err, safezip.ErrTooLarge) {
		t.Fatalf("got %v, want safezip.ErrTooLarge", err)
	}
	if e, _ := ErrorFor(err); e.Status != 413 || e.Code != "payload_too_large" {
		t.Fatalf("maps to %d %s", e.Status, e.Code)
	}
}
