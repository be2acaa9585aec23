package component_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

type importResp struct {
	Imported int `json:"imported"`
	Recorded int `json:"recorded"`
}

type overriddenResult struct {
	StudentID  string  `json:"student_id"`
	Email      string  `json:"email"`
	Score      float64 `json:"score"`
	MaxScore   float64 `json:"max_score"`
	Percentage float64 `json:"percentage"`
	Answered   int     `json:"answered"`
	Overridden bool    `json:"overridden"`
}

// overrides reads the results with their overridden flag, by student id.
func (e *env) overrides(examID string, staff *user) map[string]overriddenResult {
	e.t.Helper()
	var l struct {
		Items []overriddenResult `json:"items"`
	}
	e.get("/exams/"+examID+"/results", staff.Access).want(e.t, http.StatusOK).decode(e.t, &l)
	out := map[string]overriddenResult{}
	for _, it := range l.Items {
		out[it.StudentID] = it
	}
	return out
}

// importFile posts a results file to the exam's import.
func (e *env) importFile(examID string, staff *user, name string, data []byte) *resp {
	e.t.Helper()
	return e.upload("/exams/"+examID+"/results/import", staff.Access, name, "application/octet-stream", data)
}

// setCSVScore returns the CSV with the score of email replaced.
func setCSVScore(t *testing.T, file []byte, email, score string) []byte {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(file)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range rows[1:] {
		if row[0] == email {
			row[1], found = score, true
		}
	}
	if !found {
		t.Fatalf("no row for %s in %s", email, file)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.WriteAll(rows)
	return buf.Bytes()
}

// TestResultsImport: an exported file imports back without recording
// anything; an edited score becomes exactly one audited override; any bad
// row rejects the whole file and records nothing.
//
// Standard exam (max 8): A answers q1 b (2) and q4 a (2) → 4; B answers
// q3 true → 1. C, of the same level, did not take it.
func TestResultsImport(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	doc := w.doctor
	a, b, c := w.studentA, w.studentA2, e.student(w.levelA)
	id := e.publishedExam(doc, w.levelA, nil).ID
	e.answer(id, "q1", a, "b").want(t, http.StatusOK)
	e.answer(id, "q4", a, "a").want(t, http.StatusOK)
	e.answer(id, "q3", b, "true").want(t, http.StatusOK)

	simple := []byte("email,score\n" + a.Email + ",5\n")
	e.importFile(id, doc, "r.csv", simple).wantError(t, http.StatusConflict, "not_graded")
	e.closeAndGrade(id, doc, 2)

	csvFile := e.get("/exams/"+id+"/results?format=csv", doc.Access).want(t, http.StatusOK).body
	xlsxFile := e.get("/exams/"+id+"/results?format=xlsx", doc.Access).want(t, http.StatusOK).body

	t.Run("exports import back unchanged and record nothing", func(t *testing.T) {
		for name, file := range map[string][]byte{"results.csv": csvFile, "results.xlsx": xlsxFile} {
			head := e.head()
			var got importResp
			e.importFile(id, doc, name, file).want(t, http.StatusOK).decode(t, &got)
			if got != (importResp{Imported: 2, Recorded: 0}) {
				t.Fatalf("%s: %+v, want 2 rows imported and nothing recorded", name, got)
			}
			if h := e.head(); h != head {
				t.Fatalf("%s: the head moved from %d to %d", name, head, h)
			}
		}
		for _, r := range e.overrides(id, doc) {
			if r.Overridden {
				t.Fatalf("nothing is overridden yet: %+v", r)
			}
		}
	})

	t.Run("an edited CSV score is one override, shown in results and the audit trail", func(t *testing.T) {
		edited := setCSVScore(t, csvFile, a.Email, "5.5")
		var got importResp
		e.importFile(id, doc, "edited.csv", edited).want(t, http.StatusOK).decode(t, &got)
		if got != (importResp{Imported: 2, Recorded: 1}) {
			t.Fatalf("import: %+v, want 2 imported, 1 recorded", got)
		}
		evs := e.events("/exams/"+id+"/events?type=grade.score_overridden.v1", doc)
		if len(evs) != 1 {
			t.Fatalf("%d overrides recorded, want 1: %+v", len(evs), evs)
		}
		ev := evs[0]
		want := map[string]any{"exam_id": id, "student_id": a.ID, "score": 5.5, "max_score": 8.0, "previous_score": 4.0, "source": "import",
			"overridden_at": ev.Data["overridden_at"]}
		if !reflect.DeepEqual(ev.Data, want) || ev.StreamID != "grades-"+id || ev.Actor.ID != doc.ID || ev.Actor.Role != "doctor" {
			t.Fatalf("override event %+v, want data %v by the doctor", ev, want)
		}
		if got := e.events("/exams/"+id+"/events?student_id="+a.ID+"&type=grade.score_overridden.v1", doc); len(got) != 1 {
			t.Fatalf("the override is not in A's audit trail: %+v", got)
		}
		res := e.overrides(id, doc)
		if r := res[a.ID]; r.Score != 5.5 || r.Percentage != 68.75 || !r.Overridden || r.MaxScore != 8 || r.Answered != 2 {
			t.Fatalf("A's result: %+v", r)
		}
		if r := res[b.ID]; r.Score != 1 || r.Overridden {
			t.Fatalf("B's result: %+v", r)
		}
		var mine struct {
			Score      float64 `json:"score"`
			Overridden bool    `json:"overridden"`
		}
		e.get("/exams/"+id+"/result", a.Access).want(t, http.StatusOK).decode(t, &mine)
		if mine.Score != 5.5 || !mine.Overridden {
			t.Fatalf("A reads %+v", mine)
		}

		// The same file again changes nothing.
		head := e.head()
		e.importFile(id, doc, "edited.csv", edited).want(t, http.StatusOK).decode(t, &got)
		if got.Recorded != 0 || e.head() != head {
			t.Fatalf("importing the same file twice recorded %d", got.Recorded)
		}
	})

	t.Run("an edited XLSX score is one override", func(t *testing.T) {
		f, err := excelize.OpenReader(bytes.NewReader(xlsxFile))
		if err != nil {
			t.Fatal(err)
		}
		sheet := f.GetSheetList()[0]
		rows, _ := f.GetRows(sheet)
		for i, row := range rows {
			if row[0] == b.Email {
				cell, _ := excelize.CoordinatesToCellName(2, i+1)
				_ = f.SetCellFloat(sheet, cell, 0.25, -1, 64)
			}
		}
		buf, err := f.WriteToBuffer()
		_ = f.Close()
		if err != nil {
			t.Fatal(err)
		}
		// A still holds 4 in this export: importing it puts 4 back over
		// the 5.5 override, as an override of its own.
		var got importResp
		e.importFile(id, doc, "edited.xlsx", buf.Bytes()).want(t, http.StatusOK).decode(t, &got)
		if got != (importResp{Imported: 2, Recorded: 2}) {
			t.Fatalf("import: %+v", got)
		}
		res := e.overrides(id, doc)
		if res[b.ID].Score != 0.25 || !res[b.ID].Overridden || res[a.ID].Score != 4 || !res[a.ID].Overridden {
			t.Fatalf("results %+v", res)
		}
	})

	t.Run("a student of the level without an attempt gets a result", func(t *testing.T) {
		var got importResp
		e.importFile(id, e.admin, "c.csv", []byte("email,score\n"+strings.ToUpper(c.Email)+",3\n")).want(t, http.StatusOK).decode(t, &got)
		if got != (importResp{Imported: 1, Recorded: 1}) {
			t.Fatalf("import: %+v", got)
		}
		if r := e.overrides(id, doc)[c.ID]; r.Score != 3 || !r.Overridden || r.MaxScore != 8 {
			t.Fatalf("C's result: %+v", r)
		}
		evs := e.events("/exams/"+id+"/events?student_id="+c.ID, doc)
		if len(evs) != 1 || evs[0].Data["previous_score"] != nil {
			t.Fatalf("C's trail: %+v", evs)
		}
	})

	t.Run("every bad row is listed and nothing is recorded", func(t *testing.T) {
		before := e.overrides(id, doc)
		head := e.head()
		file := "email,score,comment\n" +
			c.Email + ",2,valid on its own: must not be recorded\n" +
			"nobody@school.test,1,\n" +
			w.other.Email + ",1,another level\n" +
			doc.Email + ",1,a doctor\n" +
			a.Email + ",abc,\n" +
			b.Email + ",8.5,\n" +
			"\n" +
			w.studentA2.Email + ",1,duplicate of the row above\n" +
			",,neither email nor score\n" +
			"  " + c.Email + " ,-1,\n"
		r := e.importFile(id, doc, "bad.csv", []byte(file)).wantError(t, http.StatusBadRequest, "validation_failed")
		var body struct {
			Error struct {
				Details struct {
					Fields map[string]string `json:"fields"`
					Rows   []struct {
						Row    int    `json:"row"`
						Email  string `json:"email"`
						Reason string `json:"reason"`
					} `json:"rows"`
				} `json:"details"`
			} `json:"error"`
		}
		r.decode(t, &body)
		type row struct {
			Row           int
			Email, Reason string
		}
		var got []row
		for _, x := range body.Error.Details.Rows {
			got = append(got, row{x.Row, x.Email, x.Reason})
		}
		want := []row{
			{3, "nobody@school.test", "no user has this email"},
			{4, w.other.Email, "not a student of the exam's level"},
			{5, doc.Email, "not a student of the exam's level"},
			{6, a.Email, "score is not a number"},
			{7, b.Email, "score must be between 0 and 8"},
			{9, b.Email, "duplicate email (first on row 7)"},
			{10, "", "email is required; score is required"},
			{11, c.Email, "duplicate email (first on row 2); score must be between 0 and 8"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("rows:\n got %v\nwant %v", got, want)
		}
		if body.Error.Details.Fields["file"] == "" {
			t.Errorf("no reason for the field file: %s", r)
		}
		if h := e.head(); h != head {
			t.Fatalf("a rejected file moved the head from %d to %d", head, h)
		}
		if after := e.overrides(id, doc); !reflect.DeepEqual(after, before) {
			t.Fatalf("results changed:\n%v\n%v", before, after)
		}
	})

	t.Run("files that are not results files", func(t *testing.T) {
		head := e.head()
		for name, tc := range map[string]struct {
			data   string
			status int
			code   string
		}{
			"no score column":     {"email,points\n" + a.Email + ",1\n", http.StatusBadRequest, "validation_failed"},
			"no header":           {a.Email + ",1\n", http.StatusBadRequest, "validation_failed"},
			"empty":               {"", http.StatusBadRequest, "validation_failed"},
			"an image":            {string(pngImage(t)), http.StatusBadRequest, "validation_failed"},
			"a broken zip (xlsx)": {"PK\x03\x04broken", http.StatusBadRequest, "validation_failed"},
			"over 5 MiB":          {"email,score\n" + strings.Repeat(a.Email+",1\n", 5<<20/len(a.Email+",1\n")+1), http.StatusRequestEntityTooLarge, "payload_too_large"},
		} {
			r := e.importFile(id, doc, "f", []byte(tc.data)).wantError(t, tc.status, tc.code)
			if tc.status == http.StatusBadRequest && r.fields(t)["file"] == nil {
				t.Errorf("%s: no reason for the field file: %s", name, r)
			}
		}
		e.post("/exams/"+id+"/results/import", doc.Access, map[string]any{"email": a.Email}).wantError(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
		if h := e.head(); h != head {
			t.Fatalf("refused files moved the head from %d to %d", head, h)
		}
	})

	t.Run("who may import", func(t *testing.T) {
		open := e.publishedExam(doc, w.levelA, nil)
		head := e.head()
		e.importFile(id, w.doctor2, "r.csv", simple).wantError(t, http.StatusForbidden, "forbidden")
		e.importFile(id, a, "r.csv", simple).wantError(t, http.StatusForbidden, "forbidden")
		e.importFile("00000000-0000-0000-0000-000000000000", e.admin, "r.csv", simple).wantError(t, http.StatusNotFound, "not_found")
		e.importFile(open.ID, doc, "r.csv", simple).wantError(t, http.StatusConflict, "not_graded")
		if h := e.head(); h != head {
			t.Fatalf("refused imports moved the head from %d to %d", head, h)
		}
	})
}
