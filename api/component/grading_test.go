package component_test

import (
	"bytes"
	"encoding/csv"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

type studentResult struct {
	ExamID     string  `json:"exam_id"`
	Score      float64 `json:"score"`
	MaxScore   float64 `json:"max_score"`
	Percentage float64 `json:"percentage"`
	GradedAt   string  `json:"graded_at"`
	Questions  []struct {
		QuestionID    string   `json:"question_id"`
		Choices       []string `json:"choices"`
		Correct       []string `json:"correct"`
		PointsAwarded float64  `json:"points_awarded"`
	} `json:"questions"`
}

type regradeResponse struct {
	DryRun  bool `json:"dry_run"`
	Changed []struct {
		StudentID string   `json:"student_id"`
		OldScore  *float64 `json:"old_score"`
		NewScore  float64  `json:"new_score"`
	} `json:"changed"`
	Unchanged int `json:"unchanged"`
}

const hyperlinkName = `=HYPERLINK("http://evil.test","click me")`

// TestGradingByHand grades an exam whose scores are computed by hand,
// exports them, corrects a key (the exam regrades itself), regrades on
// request, and reads the audit trail.
//
// Standard exam (max 8): q1 single key b 2 pts −0.5 wrong; q2 multiple
// keys a,c 3 pts; q3 true_false key true 1 pt; q4 single key a 2 pts.
//
//	A: q1 a then b (change of mind) 2, q2 a,c,d 3×(2−1)/2 = 1.5, q3 true 1, q4 — 0  → 4.5 (56.25 %)
//	B: q1 c −0.5, q2 a 3×1/2 = 1.5, q3 false 0, q4 a 2                            → 3   (37.5 %)
//	C: q1 a −0.5, nothing else                                                      → 0 (never below 0)
//
// After the key of q1 becomes c:  A 4.5−2−0.5 = 2,  B 3+0.5+2 = 5.5,  C still 0.
func TestGradingByHand(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	a, b := w.studentA, w.studentA2
	c := e.createUser("student", w.levelA, hyperlinkName)
	doc := w.doctor
	ex := e.publishedExam(doc, w.levelA, map[string]any{"title": "Cells: quiz 1"})
	id := ex.ID

	e.get("/exams/"+id+"/results", doc.Access).wantError(t, http.StatusConflict, "not_graded")
	e.get("/exams/"+id+"/results?format=csv", doc.Access).wantError(t, http.StatusConflict, "not_graded")
	e.post("/exams/"+id+"/regrade", doc.Access, map[string]any{"dry_run": true}).wantError(t, http.StatusConflict, "not_graded")

	e.answer(id, "q1", a, "a").want(t, http.StatusOK)
	e.answer(id, "q1", a, "b").want(t, http.StatusOK)
	e.answer(id, "q2", a, "a", "c", "d").want(t, http.StatusOK)
	e.answer(id, "q3", a, "true").want(t, http.StatusOK)
	e.post("/exams/"+id+"/submit", a.Access, nil).want(t, http.StatusOK)
	e.post("/exams/"+id+"/answers", b.Access, map[string]any{"answers": []map[string]any{
		{"question_id": "q1", "choices": []string{"c"}}, {"question_id": "q2", "choices": []string{"a"}},
		{"question_id": "q3", "choices": []string{"false"}}, {"question_id": "q4", "choices": []string{"a"}}}}).want(t, http.StatusOK)
	e.answer(id, "q1", c, "a").want(t, http.StatusOK)
	e.get("/exams/"+id+"/result", a.Access).wantError(t, http.StatusConflict, "not_graded")

	var closed examView
	e.post("/exams/"+id+"/close", doc.Access, nil).want(t, http.StatusAccepted).decode(t, &closed)
	if closed.Status != "closed" {
		t.Fatalf("close answered status %q, want closed", closed.Status)
	}
	e.waitGraded(id, doc, 3)

	type want struct {
		score, pct float64
		answered   int
	}
	checkResults := func(t *testing.T, wants map[string]want) {
		t.Helper()
		got := e.results(id, doc)
		if len(got) != len(wants) {
			t.Fatalf("%d results, want %d: %+v", len(got), len(wants), got)
		}
		for sid, w := range wants {
			r := got[sid]
			if r.Score != w.score || r.MaxScore != 8 || r.Percentage != w.pct || r.Answered != w.answered || r.GradedAt == "" {
				t.Errorf("student %s: got %+v, want score %v (%v %%), answered %d, max 8", sid, r, w.score, w.pct, w.answered)
			}
		}
	}
	checkResults(t, map[string]want{a.ID: {4.5, 56.25, 3}, b.ID: {3, 37.5, 4}, c.ID: {0, 0, 1}})
	if r := e.results(id, doc)[c.ID]; r.Email != c.Email || r.FullName != hyperlinkName {
		t.Errorf("result row of C names %q <%s>", r.FullName, r.Email)
	}

	t.Run("students read their own result with the key", func(t *testing.T) {
		var ra studentResult
		e.get("/exams/"+id+"/result", a.Access).want(t, http.StatusOK).decode(t, &ra)
		if ra.ExamID != id || ra.Score != 4.5 || ra.MaxScore != 8 || ra.Percentage != 56.25 || ra.GradedAt == "" {
			t.Fatalf("result of A: %+v", ra)
		}
		wantQ := map[string]struct {
			choices, correct []string
			points           float64
		}{
			"q1": {[]string{"b"}, []string{"b"}, 2}, "q2": {[]string{"a", "c", "d"}, []string{"a", "c"}, 1.5},
			"q3": {[]string{"true"}, []string{"true"}, 1}, "q4": {[]string{}, []string{"a"}, 0},
		}
		if len(ra.Questions) != 4 {
			t.Fatalf("result lists %d questions", len(ra.Questions))
		}
		for _, q := range ra.Questions {
			w := wantQ[q.QuestionID]
			if !slices.Equal(q.Choices, w.choices) || !slices.Equal(q.Correct, w.correct) || q.PointsAwarded != w.points {
				t.Errorf("%s: got %+v, want %+v", q.QuestionID, q, w)
			}
		}
		var rb studentResult
		e.get("/exams/"+id+"/result", b.Access).want(t, http.StatusOK).decode(t, &rb)
		if rb.Score != 3 || rb.Questions[0].PointsAwarded != -0.5 {
			t.Fatalf("result of B: %+v", rb)
		}
		var mine struct {
			Items []studentResult `json:"items"`
		}
		e.get("/me/results", a.Access).want(t, http.StatusOK).decode(t, &mine)
		if len(mine.Items) != 1 || mine.Items[0].ExamID != id || mine.Items[0].Score != 4.5 {
			t.Fatalf("/me/results of A: %+v", mine)
		}
		// A student of the level who did not take the exam has no result.
		e.get("/exams/"+id+"/result", e.student(w.levelA).Access).wantError(t, http.StatusNotFound, "not_found")
	})

	t.Run("csv export", func(t *testing.T) {
		r := e.get("/exams/"+id+"/results?format=csv", doc.Access).want(t, http.StatusOK)
		if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".csv") {
			t.Errorf("Content-Disposition = %q", cd)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type = %q", ct)
		}
		rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v\n%s", err, r.body)
		}
		if len(rows) != 4 {
			t.Fatalf("%d csv rows, want a header and 3", len(rows))
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		for _, h := range []string{"email", "score", "max_score", "percentage", "full_name", "student_id"} {
			if _, ok := col[h]; !ok {
				t.Fatalf("csv header %v lacks %s", rows[0], h)
			}
		}
		if col["email"] != 0 || col["score"] != 1 {
			t.Errorf("csv must start with email,score (so it imports back): %v", rows[0])
		}
		scores := map[string]string{}
		for _, row := range rows[1:] {
			scores[row[col["email"]]] = row[col["score"]]
			if row[col["email"]] == c.Email {
				if got, want := row[col["full_name"]], "'"+hyperlinkName; got != want {
					t.Errorf("formula not neutralised: full_name cell %q, want %q", got, want)
				}
			}
		}
		if scores[a.Email] != "4.5" || scores[b.Email] != "3" || scores[c.Email] != "0" {
			t.Errorf("csv scores: %v", scores)
		}
	})

	t.Run("xlsx export", func(t *testing.T) {
		r := e.get("/exams/"+id+"/results?format=xlsx", doc.Access).want(t, http.StatusOK)
		if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".xlsx") {
			t.Errorf("Content-Disposition = %q", cd)
		}
		f, err := excelize.OpenReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("open xlsx: %v", err)
		}
		defer f.Close()
		sheet := f.GetSheetList()[0]
		rows, err := f.GetRows(sheet)
		if err != nil || len(rows) != 4 {
			t.Fatalf("xlsx rows: %v %v", rows, err)
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		for i := 2; i <= 4; i++ {
			emailCell, _ := excelize.CoordinatesToCellName(col["email"]+1, i)
			scoreCell, _ := excelize.CoordinatesToCellName(col["score"]+1, i)
			nameCell, _ := excelize.CoordinatesToCellName(col["full_name"]+1, i)
			email, _ := f.GetCellValue(sheet, emailCell)
			score, _ := f.GetCellValue(sheet, scoreCell)
			if typ, _ := f.GetCellType(sheet, scoreCell); typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
				t.Errorf("score cell %s is text, want a number", scoreCell)
			}
			want := map[string]string{a.Email: "4.5", b.Email: "3", c.Email: "0"}[email]
			if score != want {
				t.Errorf("%s: score %q, want %q", email, score, want)
			}
			if email == c.Email {
				if formula, _ := f.GetCellFormula(sheet, nameCell); formula != "" {
					t.Errorf("the name became a formula: %q", formula)
				}
				if v, _ := f.GetCellValue(sheet, nameCell); !strings.Contains(v, "HYPERLINK") {
					t.Errorf("name cell = %q", v)
				}
			}
		}
	})

	t.Run("dry run on a graded exam appends nothing", func(t *testing.T) {
		head := e.head()
		var rr regradeResponse
		e.post("/exams/"+id+"/regrade", doc.Access, map[string]any{"dry_run": true}).want(t, http.StatusOK).decode(t, &rr)
		if !rr.DryRun || len(rr.Changed) != 0 || rr.Unchanged != 3 {
			t.Fatalf("dry run: %+v", rr)
		}
		if e.head() != head {
			t.Fatal("a dry run appended events")
		}
	})

	t.Run("answer key correction regrades by itself", func(t *testing.T) {
		var corrected examView
		e.put("/exams/"+id+"/questions/q1/answer-key", doc.Access, map[string]any{"correct": []string{"c"}}).
			want(t, http.StatusOK).decode(t, &corrected)
		if !slices.Equal(corrected.Questions[0].Correct, []string{"c"}) {
			t.Fatalf("corrected exam: %+v", corrected.Questions[0])
		}
		// Until the grader catches up, a dry run shows exactly the pending diff.
		head := e.head()
		var rr regradeResponse
		e.post("/exams/"+id+"/regrade", doc.Access, map[string]any{"dry_run": true}).want(t, http.StatusOK).decode(t, &rr)
		t.Logf("dry run right after the correction saw %d changes (0 when the grader was faster)", len(rr.Changed))
		if len(rr.Changed) > 0 {
			diff := map[string][2]float64{}
			for _, ch := range rr.Changed {
				if ch.OldScore == nil {
					t.Fatalf("regrade diff without old score: %+v", rr)
				}
				diff[ch.StudentID] = [2]float64{*ch.OldScore, ch.NewScore}
			}
			if len(diff) != 2 || diff[a.ID] != [2]float64{4.5, 2} || diff[b.ID] != [2]float64{3, 5.5} || rr.Unchanged != 1 {
				t.Fatalf("dry run diff: %+v", rr)
			}
			if e.head() != head {
				t.Log("(the grader appended while the dry run ran)")
			}
		}
		waitFor(t, "the automatic regrade", func() bool {
			r := e.results(id, doc)
			return r[a.ID].Score == 2 && r[b.ID].Score == 5.5
		})
		checkResults(t, map[string]want{a.ID: {2, 25, 3}, b.ID: {5.5, 68.75, 4}, c.ID: {0, 0, 1}})
		var ra studentResult
		e.get("/exams/"+id+"/result", a.Access).want(t, http.StatusOK).decode(t, &ra)
		if ra.Score != 2 || !slices.Equal(ra.Questions[0].Correct, []string{"c"}) || ra.Questions[0].PointsAwarded != -0.5 {
			t.Fatalf("A's result after the correction: %+v", ra)
		}
	})

	t.Run("regrade for real appends a grading round", func(t *testing.T) {
		waitFor(t, "the automatic regrade's exam.graded.v1", func() bool {
			return len(e.events("/exams/"+id+"/events?limit=500&type=exam.graded.v1", doc)) == 2
		})
		head := e.head()
		var rr regradeResponse
		e.post("/exams/"+id+"/regrade", doc.Access, map[string]any{"dry_run": false}).want(t, http.StatusOK).decode(t, &rr)
		if rr.DryRun || len(rr.Changed) != 0 || rr.Unchanged != 3 {
			t.Fatalf("regrade: %+v", rr)
		}
		if e.head() <= head {
			t.Fatal("a real regrade appended nothing")
		}
		graded := e.events("/exams/"+id+"/events?limit=500&type=exam.graded.v1", doc)
		if len(graded) != 3 {
			t.Fatalf("%d exam.graded.v1 events, want 3 (close, key correction, regrade)", len(graded))
		}
		triggers := []string{}
		for _, ev := range graded {
			triggers = append(triggers, ev.Data["trigger"].(string))
		}
		if !slices.Equal(triggers, []string{"close", "answer_key", "regrade"}) {
			t.Errorf("grading triggers %v", triggers)
		}
	})

	t.Run("audit trail of the exam", func(t *testing.T) {
		all := e.events("/exams/"+id+"/events?limit=500", doc)
		n := countTypes(all)
		wantCounts := map[string]int{
			"exam.drafted.v1": 1, "exam.published.v1": 1, "attempt.started.v1": 3, "attempt.answer_saved.v1": 9,
			"attempt.submitted.v1": 1, "exam.closed.v1": 1, "grade.attempt_scored.v1": 3 + 2, "exam.graded.v1": 3,
			"exam.answer_key_corrected.v1": 1,
		}
		for typ, want := range wantCounts {
			if n[typ] != want {
				t.Errorf("%d %s events, want %d (all: %v)", n[typ], typ, want, n)
			}
		}
		for i := 1; i < len(all); i++ {
			prev, _ := time.Parse(time.RFC3339Nano, all[i-1].OccurredAt)
			cur, _ := time.Parse(time.RFC3339Nano, all[i].OccurredAt)
			if cur.Before(prev) {
				t.Fatalf("audit trail out of order at %d", i)
			}
		}
		for _, ev := range all {
			if ev.EventID == "" || ev.StreamID == "" || ev.Version < 1 || ev.OccurredAt == "" || ev.Actor.ID == "" || ev.Actor.Role == "" ||
				ev.Data["exam_id"] != id {
				t.Errorf("event lacks part of its envelope or the exam id: %+v", ev)
			}
		}
		saved := e.events("/exams/"+id+"/events?limit=500&type=attempt.answer_saved.v1", doc)
		for _, ev := range saved {
			if ev.Type != "attempt.answer_saved.v1" || ev.Data["exam_id"] != id || ev.Data["question_id"] == nil || ev.Data["choices"] == nil {
				t.Errorf("type filter let through %+v", ev)
			}
		}
		if len(saved) != 9 {
			t.Errorf("%d answer events, want 9", len(saved))
		}
		ofA := e.events("/exams/"+id+"/events?limit=500&student_id="+a.ID, doc)
		for _, ev := range ofA {
			if ev.Data["student_id"] != a.ID {
				t.Errorf("student filter let through %+v", ev)
			}
		}
		if got := countTypes(ofA); got["attempt.answer_saved.v1"] != 4 || got["attempt.started.v1"] != 1 ||
			got["attempt.submitted.v1"] != 1 || got["grade.attempt_scored.v1"] != 2 {
			t.Errorf("A's events: %v", got)
		}
		ofC := e.events("/exams/"+id+"/events?type=grade.attempt_scored.v1&student_id="+c.ID, doc)
		if len(ofC) != 1 {
			t.Errorf("C was scored %d times, want once (the correction did not change C's score)", len(ofC))
		}
		// Pages of the audit trail join up to the whole trail.
		var paged []eventView
		path := "/exams/" + id + "/events?limit=7"
		for {
			var l eventList
			e.get(path, doc.Access).want(t, http.StatusOK).decode(t, &l)
			paged = append(paged, l.Items...)
			if l.NextCursor == nil {
				break
			}
			path = "/exams/" + id + "/events?limit=7&cursor=" + *l.NextCursor
		}
		if len(paged) != len(all) {
			t.Errorf("paging gave %d events, want %d", len(paged), len(all))
		}
	})

	t.Run("audit log of the whole store is for admins", func(t *testing.T) {
		e.get("/audit/events", doc.Access).wantError(t, http.StatusForbidden, "forbidden")
		stream := e.events("/audit/events?limit=500&stream_id=exam-"+id, e.admin)
		if len(stream) == 0 {
			t.Fatal("no events for the exam stream")
		}
		for _, ev := range stream {
			if ev.StreamID != "exam-"+id || !strings.HasPrefix(ev.Type, "exam.") {
				t.Errorf("stream filter let through %+v", ev)
			}
		}
		byA := e.events("/audit/events?limit=500&actor_id="+a.ID, e.admin)
		if countTypes(byA)["attempt.answer_saved.v1"] != 4 {
			t.Errorf("A's own events: %v", countTypes(byA))
		}
		for _, ev := range byA {
			if ev.Actor.ID != a.ID || ev.Actor.Role != "student" {
				t.Errorf("actor filter let through %+v", ev)
			}
		}
		levels := e.events("/audit/events?type=level.created.v1", e.admin)
		if len(levels) != 2 {
			t.Errorf("%d level.created.v1 events, want 2", len(levels))
		}
		// Password hashes never leave the store.
		r := e.get("/audit/events?limit=500&type=credentials.password_set.v1", e.admin.Access).want(t, http.StatusOK)
		if strings.Contains(string(r.body), "argon2") || !strings.Contains(string(r.body), `"redacted":true`) {
			t.Errorf("password events not redacted: %s", truncate(string(r.body), 400))
		}
		if evs := e.events("/audit/events?from=2999-01-01T00:00:00Z", e.admin); len(evs) != 0 {
			t.Error("a time range in the future matched events")
		}
		e.get("/audit/events?from=yesterday", e.admin.Access).wantError(t, http.StatusBadRequest, "validation_failed")
	})
}

// TestMultipleChoicePartialCredit checks the partial-credit rule on its
// own: points × max(0, (right − wrong) / correct keys), and negative
// marking as a floor.
func TestMultipleChoicePartialCredit(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	q := func(id string, neg float64) map[string]any {
		return map[string]any{"id": id, "text": "Pick the primes", "kind": "multiple",
			"choices": []map[string]string{{"text": "2"}, {"text": "3"}, {"text": "4"}, {"text": "5"}, {"text": "6"}},
			"correct": []string{"a", "b", "d"}, "points": 3, "negative_points": neg}
	}
	ex := e.publishedExam(w.doctor, w.levelA, map[string]any{"questions": []map[string]any{q("plain", 0), q("negative", 1)}})
	cases := []struct {
		choices []string
		plain   float64
		neg     float64
	}{
		{[]string{"a", "b", "d"}, 3, 3},
		{[]string{"a", "b"}, 2, 2},
		{[]string{"a", "c"}, 0, 0},
		{[]string{"a", "c", "e"}, 0, -1},
		{[]string{"c", "e"}, 0, -1},
		{[]string{"a", "b", "c", "d", "e"}, 1, 1},
		{[]string{}, 0, 0},
	}
	students := make([]*user, len(cases))
	for i, c := range cases {
		students[i] = e.student(w.levelA)
		e.answer(ex.ID, "plain", students[i], c.choices...).want(t, http.StatusOK)
		e.answer(ex.ID, "negative", students[i], c.choices...).want(t, http.StatusOK)
	}
	e.closeAndGrade(ex.ID, w.doctor, len(cases))
	for i, c := range cases {
		var r studentResult
		e.get("/exams/"+ex.ID+"/result", students[i].Access).want(t, http.StatusOK).decode(t, &r)
		got := map[string]float64{}
		for _, q := range r.Questions {
			got[q.QuestionID] = q.PointsAwarded
		}
		if got["plain"] != c.plain || got["negative"] != c.neg || r.Score != math.Max(0, c.plain+c.neg) {
			t.Errorf("choices %v: got plain %v, negative %v, score %v; want %v, %v, %v", c.choices,
				got["plain"], got["negative"], r.Score, c.plain, c.neg, strconv.FormatFloat(math.Max(0, c.plain+c.neg), 'f', -1, 64))
		}
	}
}

// TestResultsCompleteOnceGraded: the moment an exam reads "graded", its
// results list every attempt and every student who took it has a result
// (the status comes from the exam's stream, the degrees from the read
// models, which must not be seen behind it).
func TestResultsCompleteOnceGraded(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	for round := range 15 {
		ex := e.publishedExam(w.doctor, w.levelA, nil)
		e.answer(ex.ID, "q1", w.studentA, "b").want(t, http.StatusOK)
		e.answer(ex.ID, "q1", w.studentA2, "c").want(t, http.StatusOK)
		e.post("/exams/"+ex.ID+"/close", w.doctor.Access, nil).want(t, http.StatusAccepted)
		waitFor(t, "graded", func() bool { return e.getExam(ex.ID, w.doctor).Status == "graded" })
		if n := len(e.results(ex.ID, w.doctor)); n != 2 {
			t.Fatalf("round %d: graded exam lists %d results, want 2", round, n)
		}
		e.get("/exams/"+ex.ID+"/result", w.studentA2.Access).want(t, http.StatusOK)
	}
}
