package component_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// uploadForm posts a multipart form: the fields (in the order given, the
// file between fieldsBefore and the rest) and the file.
func (e *env) uploadForm(path, token string, data []byte, fields ...string) *resp {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="questions"`)
	h.Set("Content-Type", "application/octet-stream")
	part, err := mw.CreatePart(h)
	if err != nil {
		e.t.Fatal(err)
	}
	_, _ = part.Write(data)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = mw.WriteField(fields[i], fields[i+1])
	}
	if err := mw.Close(); err != nil {
		e.t.Fatal(err)
	}
	return e.post(path, token, buf.Bytes(), "Content-Type", mw.FormDataContentType())
}

type importedQuestions struct {
	Imported int `json:"imported"`
	Skipped  []struct {
		Index  int    `json:"index"`
		Title  string `json:"title"`
		Reason string `json:"reason"`
	} `json:"skipped"`
	Questions []question `json:"questions"`
}

const giftBank = `// A small bank.
::Cell::What is the powerhouse of the cell? {
	~Nucleus
	=Mitochondrion
	~Ribosome
}

::Escapes::Is 1 \= 1 \{really\}? {T}

// examhall: points=3
::Organelles::Which are organelles? {~%50%Golgi body ~%-50%Plasma ~%50%Lysosome}
`

const giftWithEssay = giftBank + `
::Essay::Write about cells. {}
`

// onePixelPNG is a valid 1×1 PNG.
const onePixelPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="

const moodleBank = `<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category"><category><text>$course$/Default</text></category></question>
  <question type="multichoice">
    <name><text>Entities</text></name>
    <questiontext format="html"><text><![CDATA[<p>Is 2 &lt; 3 &amp;&amp; <b>3 &gt; 2</b>?</p><img src="@@PLUGINFILE@@/dot.png">]]></text>
      <file name="dot.png" path="/" encoding="base64">` + onePixelPNG + `</file></questiontext>
    <defaultgrade>2</defaultgrade>
    <single>true</single>
    <answer fraction="100"><text>Yes</text></answer>
    <answer fraction="-25"><text>No</text></answer>
  </question>
</quiz>`

func (e *env) freshDraft(owner *user, levelID string) examView {
	e.t.Helper()
	return e.draftExam(owner, levelID, map[string]any{"questions": []any{}})
}

// TestQuestionImport: a GIFT file, a Moodle XML bank with an image and a QTI
// package land in a draft in file order, all in one append.
func TestQuestionImport(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	ex := e.draftExam(w.doctor, w.levelA, nil) // the 4 standard questions

	var got importedQuestions
	before := e.head()
	e.uploadForm("/exams/"+ex.ID+"/questions/import", w.doctor.Access, []byte(giftBank), "format", "gift").want(t, http.StatusOK).decode(t, &got)
	if got.Imported != 3 || len(got.Questions) != 3 || len(got.Skipped) != 0 {
		t.Fatalf("import answered %+v", got)
	}
	if e.head() != before+3 {
		t.Fatalf("head moved %d -> %d: want one append of 3 events", before, e.head())
	}
	after := e.getExam(ex.ID, w.doctor)
	if len(after.Questions) != 7 {
		t.Fatalf("%d questions after the import", len(after.Questions))
	}
	q := after.Questions[4:]
	if q[0].Text != "What is the powerhouse of the cell?" || q[0].Kind != "single" || !reflect.DeepEqual(q[0].Correct, []string{"b"}) {
		t.Fatalf("first imported question %+v", q[0])
	}
	if q[1].Text != "Is 1 = 1 {really}?" || q[1].Kind != "true_false" || !reflect.DeepEqual(q[1].Correct, []string{"true"}) {
		t.Fatalf("second imported question %+v", q[1])
	}
	if q[2].Kind != "multiple" || q[2].Points != 3 || !reflect.DeepEqual(q[2].Correct, []string{"a", "c"}) {
		t.Fatalf("third imported question %+v", q[2])
	}
	if after.MaxScore != 8+1+1+3 {
		t.Fatalf("max score %v", after.MaxScore)
	}

	t.Run("moodle xml with an embedded image, format detected", func(t *testing.T) {
		d := e.freshDraft(w.doctor, w.levelA)
		var got importedQuestions
		e.uploadForm("/exams/"+d.ID+"/questions/import", w.doctor.Access, []byte(moodleBank)).want(t, http.StatusOK).decode(t, &got)
		if got.Imported != 1 {
			t.Fatalf("%+v", got)
		}
		q := got.Questions[0]
		if q.Text != "Is 2 < 3 && 3 > 2?" || q.Points != 2 || q.NegativePoints != 0.5 || q.ImageID == nil {
			t.Fatalf("imported %+v", q)
		}
		// The doctor's own draft: a student may not see its images yet.
		img := e.get("/images/"+*q.ImageID, w.doctor.Access).want(t, http.StatusOK)
		want, _ := base64.StdEncoding.DecodeString(onePixelPNG)
		if !bytes.Equal(img.body, want) {
			t.Fatal("the stored image is not the embedded one")
		}
	})

	t.Run("qti package", func(t *testing.T) {
		src := e.get("/exams/"+ex.ID+"/questions/export?format=qti", w.doctor.Access).want(t, http.StatusOK)
		d := e.freshDraft(w.doctor, w.levelA)
		var got importedQuestions
		e.uploadForm("/exams/"+d.ID+"/questions/import", w.doctor.Access, src.body, "format", "qti").want(t, http.StatusOK).decode(t, &got)
		if got.Imported != 7 {
			t.Fatalf("%+v", got)
		}
	})
}

// TestQuestionImportRefused: whatever is refused appends nothing.
func TestQuestionImportRefused(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	ex := e.draftExam(w.doctor, w.levelA, nil)
	path := "/exams/" + ex.ID + "/questions/import"

	nothingAppended := func(t *testing.T, r func() *resp) *resp {
		t.Helper()
		before := e.head()
		res := r()
		if e.head() != before {
			t.Fatalf("a refused import appended: head %d -> %d", before, e.head())
		}
		return res
	}
	t.Run("unsupported questions list their index and title", func(t *testing.T) {
		r := nothingAppended(t, func() *resp { return e.uploadForm(path, w.doctor.Access, []byte(giftWithEssay)) })
		eb := r.wantError(t, http.StatusBadRequest, "validation_failed").errorBody(t)
		items, _ := eb.Error.Details["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("details %v", eb.Error.Details)
		}
		it := items[0].(map[string]any)
		if it["index"] != float64(3) || it["title"] != "Essay" || !strings.Contains(it["reason"].(string), "essay") {
			t.Fatalf("item %v", it)
		}
	})
	t.Run("skip_unsupported imports the others", func(t *testing.T) {
		d := e.freshDraft(w.doctor, w.levelA)
		for _, via := range []string{"query", "field"} {
			var got importedQuestions
			p, fields := "/exams/"+d.ID+"/questions/import", []string{}
			if via == "query" {
				p += "?skip_unsupported=true"
			} else {
				fields = []string{"skip_unsupported", "true"}
			}
			e.uploadForm(p, w.doctor.Access, []byte(giftWithEssay), fields...).want(t, http.StatusOK).decode(t, &got)
			if got.Imported != 3 || len(got.Skipped) != 1 || got.Skipped[0].Index != 3 || got.Skipped[0].Title != "Essay" {
				t.Fatalf("%s: %+v", via, got)
			}
		}
	})
	for _, tc := range []struct{ name, data, format, reason string }{
		{"malformed gift", "Q1 {=a ~b}\n\nQ2 {=a ~b\n", "gift", "gift: line 3: the answers' { has no closing }"},
		{"malformed xml", "<quiz><question>", "moodle_xml", "moodle_xml: line 1: is not well-formed XML: unexpected EOF"},
		{"malformed aiken", "Q?\nA. x\nB. y\nANSWER: Z\n", "", `aiken: line 4: ANSWER: "Z" is not the letter of one of the options`},
		{"undetectable", "just some words", "", "is not a question file this platform can tell (GIFT, Aiken, Moodle XML, QTI): name its format"},
		{"not a zip package", "PK\x03\x04garbage", "", "is not a readable zip package"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := nothingAppended(t, func() *resp { return e.uploadForm(path, w.doctor.Access, []byte(tc.data), "format", tc.format) })
			if got := r.wantError(t, http.StatusBadRequest, "validation_failed").fields(t)["file"]; got != tc.reason {
				t.Fatalf("file: %q, want %q", got, tc.reason)
			}
		})
	}
	t.Run("unknown format", func(t *testing.T) {
		r := nothingAppended(t, func() *resp { return e.uploadForm(path, w.doctor.Access, []byte(giftBank), "format", "docx") })
		if r.wantError(t, http.StatusBadRequest, "validation_failed").fields(t)["format"] == nil {
			t.Fatal("no reason for format")
		}
	})
	t.Run("a package that unpacks past the limit", func(t *testing.T) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		f, _ := zw.Create("imsmanifest.xml")
		_, _ = f.Write(bytes.Repeat([]byte(" "), 17<<20))
		_ = zw.Close()
		nothingAppended(t, func() *resp { return e.uploadForm(path, w.doctor.Access, buf.Bytes()) }).
			wantError(t, http.StatusRequestEntityTooLarge, "payload_too_large")
	})
	t.Run("too many questions for the exam", func(t *testing.T) {
		var b strings.Builder
		for i := 0; i < 497; i++ {
			fmt.Fprintf(&b, "Q%d {=a ~b}\n\n", i)
		}
		r := nothingAppended(t, func() *resp { return e.uploadForm(path, w.doctor.Access, []byte(b.String())) })
		if r.wantError(t, http.StatusBadRequest, "validation_failed").fields(t)["questions"] == nil {
			t.Fatalf("%s", r)
		}
	})
	t.Run("not multipart", func(t *testing.T) {
		nothingAppended(t, func() *resp { return e.post(path, w.doctor.Access, giftBank, "Content-Type", "text/plain") }).
			wantError(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	})

	// Authorization: as every exam route, students by role and other
	// doctors as not the owner are 403 (API.md); an unknown exam is 404;
	// a published one 409.
	t.Run("student", func(t *testing.T) {
		nothingAppended(t, func() *resp { return e.uploadForm(path, w.studentA.Access, []byte(giftBank)) }).wantError(t, http.StatusForbidden, "forbidden")
	})
	t.Run("another doctor", func(t *testing.T) {
		nothingAppended(t, func() *resp { return e.uploadForm(path, w.doctor2.Access, []byte(giftBank)) }).wantError(t, http.StatusForbidden, "forbidden")
	})
	t.Run("no such exam", func(t *testing.T) {
		nothingAppended(t, func() *resp {
			return e.uploadForm("/exams/00000000-0000-0000-0000-000000000000/questions/import", w.doctor.Access, []byte(giftBank))
		}).wantError(t, http.StatusNotFound, "not_found")
	})
	t.Run("published", func(t *testing.T) {
		pub := e.publishedExam(w.doctor, w.levelA, nil)
		nothingAppended(t, func() *resp {
			return e.uploadForm("/exams/"+pub.ID+"/questions/import", w.doctor.Access, []byte(giftBank))
		}).
			wantError(t, http.StatusConflict, "exam_not_editable")
	})
}

// TestQuestionExportRoundTrip: every format's export imports back to the
// same questions, choices, keys and points.
func TestQuestionExportRoundTrip(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	src := e.draftExam(w.doctor, w.levelA, nil)
	orig := e.getExam(src.ID, w.doctor).Questions

	for _, format := range []string{"gift", "moodle_xml", "qti"} {
		t.Run(format, func(t *testing.T) {
			r := e.get("/exams/"+src.ID+"/questions/export?format="+format, w.doctor.Access).want(t, http.StatusOK)
			if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=\"questions-") {
				t.Fatalf("Content-Disposition %q", cd)
			}
			d := e.freshDraft(w.doctor, w.levelA)
			e.uploadForm("/exams/"+d.ID+"/questions/import", w.doctor.Access, r.body).want(t, http.StatusOK)
			back := e.getExam(d.ID, w.doctor).Questions
			if len(back) != len(orig) {
				t.Fatalf("%d questions back, want %d", len(back), len(orig))
			}
			for i := range orig {
				a, b := orig[i], back[i]
				a.ID, b.ID = "", ""
				if !reflect.DeepEqual(a, b) {
					t.Errorf("question %d:\n got %+v\nwant %+v", i, b, a)
				}
			}
		})
	}
	t.Run("aiken cannot carry the standard exam", func(t *testing.T) {
		eb := e.get("/exams/"+src.ID+"/questions/export?format=aiken", w.doctor.Access).wantError(t, http.StatusBadRequest, "validation_failed").errorBody(t)
		if items, _ := eb.Error.Details["items"].([]any); len(items) != 4 {
			t.Fatalf("details %v", eb.Error.Details)
		}
	})
	t.Run("aiken", func(t *testing.T) {
		d := e.draftExam(w.doctor, w.levelA, map[string]any{"questions": []map[string]any{
			{"text": "Capital of France?", "kind": "single", "choices": []map[string]string{{"text": "Paris"}, {"text": "Rome"}}, "correct": []string{"a"}}}})
		r := e.get("/exams/"+d.ID+"/questions/export?format=aiken", w.doctor.Access).want(t, http.StatusOK)
		if string(r.body) != "Capital of France?\nA. Paris\nB. Rome\nANSWER: A\n\n" {
			t.Fatalf("%q", r.body)
		}
	})
	t.Run("authorization", func(t *testing.T) {
		e.get("/exams/"+src.ID+"/questions/export?format=gift", w.studentA.Access).wantError(t, http.StatusForbidden, "forbidden")
		e.get("/exams/"+src.ID+"/questions/export?format=gift", w.doctor2.Access).wantError(t, http.StatusForbidden, "forbidden")
		e.get("/exams/"+src.ID+"/questions/export?format=gift", e.admin.Access).want(t, http.StatusOK)
		e.get("/exams/"+src.ID+"/questions/export?format=pdf", w.doctor.Access).wantError(t, http.StatusBadRequest, "validation_failed")
	})
}
