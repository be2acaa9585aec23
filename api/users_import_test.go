package api

import (
	"archive/zip"
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/examhall/exam/domain"
	"github.com/xuri/excelize/v2"
)

func TestParseRosterFile(t *testing.T) {
	t.Parallel()
	type row = domain.RosterRow
	for _, tc := range []struct {
		name, data string
		want       []row
		problem    string
	}{
		{name: "all columns, any order and case, leading zeros kept",
			data: "Role,EMAIL,full_name,level,id_number,subject,password,notes\nstudent,a@x.test,Ann,Year 1,000123,,,hi\ndoctor,d@x.test,\"Doe, D\",,,Art, pass with spaces \n",
			want: []row{{Row: 2, Email: "a@x.test", FullName: "Ann", Role: "student", Level: "Year 1", IDNumber: "000123"},
				{Row: 3, Email: "d@x.test", FullName: "Doe, D", Role: "doctor", Subject: "Art", Password: " pass with spaces "}}},
		{name: "only the required columns, a BOM, blank lines", data: "\xef\xbb\xbf\nemail,full_name,role\n\na@x.test,Ann,admin\n",
			want: []row{{Row: 4, Email: "a@x.test", FullName: "Ann", Role: "admin"}}},
		{name: "the export's formula quote is undone", data: "email,full_name,role\na@x.test,'=Ann,admin\n",
			want: []row{{Row: 2, Email: "a@x.test", FullName: "=Ann", Role: "admin"}}},
		{name: "missing columns", data: "email,name\n", problem: "the header row must name the columns email, full_name and role (missing: full_name, role)"},
		{name: "empty", data: "", problem: "is empty: a header row naming email, full_name and role is required"},
		{name: "malformed csv", data: "email,full_name,role\n\"a,b\n", problem: "is not valid CSV: line 2: extraneous or missing \" in quoted-field"},
		{name: "not text", data: "\x00\x01", problem: "must be a CSV file (UTF-8) or an XLSX workbook"},
		{name: "a zip that is no workbook", data: "PK\x03\x04nope", problem: "is not a readable XLSX workbook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRosterFile([]byte(tc.data))
			if tc.problem != "" {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Details["fields"].(map[string]string)["file"] != tc.problem {
					t.Fatalf("error %v, want %q", err, tc.problem)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("rows %+v (%v)\nwant %+v", got, err, tc.want)
			}
		})
	}
	t.Run("xlsx: text and numeric cells", func(t *testing.T) {
		f := excelize.NewFile()
		defer f.Close()
		for cell, v := range map[string]string{"A1": "email", "B1": "full_name", "C1": "role", "D1": "id_number", "A2": "a@x.test", "B2": "Ann", "C2": "student", "D2": "000123"} {
			_ = f.SetCellStr("Sheet1", cell, v)
		}
		_ = f.SetCellInt("Sheet1", "D3", 42)
		for cell, v := range map[string]string{"A3": "b@x.test", "B3": "Bob", "C3": "student"} {
			_ = f.SetCellStr("Sheet1", cell, v)
		}
		buf, _ := f.WriteToBuffer()
		got, err := parseRosterFile(buf.Bytes())
		want := []domain.RosterRow{{Row: 2, Email: "a@x.test", FullName: "Ann", Role: "student", IDNumber: "000123"},
			{Row: 3, Email: "b@x.test", FullName: "Bob", Role: "student", IDNumber: "42"}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("rows %+v (%v)", got, err)
		}
	})
	t.Run("xlsx that unpacks past the limit is 413", func(t *testing.T) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("xl/worksheets/sheet1.xml")
		_, _ = w.Write(bytes.Repeat([]byte("<"), 17<<20))
		_ = zw.Close()
		_, err := parseRosterFile(buf.Bytes())
		if ae, ok := ErrorFor(err); !ok || ae.Status != 413 {
			t.Fatalf("error %v", err)
		}
	})
}

// FuzzParseRosterFile: any upload parses into rows numbered by their line,
// or is refused with a 4xx API error, never a panic.
func FuzzParseRosterFile(f *testing.F) {
	f.Add([]byte("email,full_name,role,level,id_number\na@x.test,Ann,student,Year 1,007\n"))
	f.Add([]byte("\xef\xbb\xbfROLE,email,Full_Name\n,\n"))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := parseRosterFile(data)
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status >= 500 || rows != nil {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		last := 0
		for _, r := range rows {
			if r.Row <= last {
				t.Fatalf("rows out of order %v", rows)
			}
			last = r.Row
		}
	})
}
