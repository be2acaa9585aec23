package component_test

import (
	"net/http"
	"testing"
	"time"
)

type accommodationView struct {
	ExamID         string  `json:"exam_id"`
	StudentID      string  `json:"student_id"`
	ExtraSeconds   int     `json:"extra_seconds"`
	TimeMultiplier float64 `json:"time_multiplier"`
	Deadline       *string `json:"deadline"`
}

type attemptState struct {
	Status       string              `json:"status"`
	StartedAt    string              `json:"started_at"`
	Deadline     *string             `json:"deadline"`
	Now          string              `json:"now"`
	ExtraSeconds int                 `json:"extra_seconds"`
	Answers      map[string][]string `json:"answers"`
}

func (e *env) accommodate(examID string, staff, student *user, body any) *resp {
	e.t.Helper()
	return e.put("/exams/"+examID+"/accommodations/"+student.ID, staff.Access, body)
}

func (e *env) attemptOf(examID string, s *user) attemptState {
	e.t.Helper()
	var a attemptState
	e.get("/exams/"+examID+"/attempt", s.Access).want(e.t, http.StatusOK).decode(e.t, &a)
	return a
}

func mustTime(t testing.TB, s *string) time.Time {
	t.Helper()
	if s == nil {
		t.Fatal("time is null")
	}
	v, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		t.Fatalf("parse %q: %v", *s, err)
	}
	return v
}

// TestAccommodationRules: who may give time, the bounds, a live attempt,
// one whose old deadline had passed, the multiplier, removal, the audit
// trail, a manual close that is final for everyone, and 409 once closed.
func TestAccommodationRules(t *testing.T) {
	t.Parallel()
	e := start(t, withAccessTTL(24*time.Hour))
	w := e.world()
	doc, a, a2 := w.doctor, w.studentA, w.studentA2
	ex := e.publishedExam(doc, w.levelA, map[string]any{"time_limit_seconds": 600})
	path := "/exams/" + ex.ID + "/accommodations/"

	// --- bounds: 400, nothing recorded ---
	for name, body := range map[string]any{
		"negative extra":       map[string]any{"extra_seconds": -1},
		"multiplier below 1":   map[string]any{"extra_seconds": 0, "time_multiplier": 0.5},
		"multiplier above 4":   map[string]any{"extra_seconds": 0, "time_multiplier": 4.5},
		"extra missing":        map[string]any{"time_multiplier": 2},
		"extra not an integer": map[string]any{"extra_seconds": 1.5},
	} {
		r := e.accommodate(ex.ID, doc, a, body)
		if r.status != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400: %s", name, r.status, r)
		}
	}
	e.accommodate(ex.ID, doc, a, `{"extra_seconds": 1, "extra": 2}`).wantError(t, http.StatusBadRequest, "invalid_json")

	// --- who: the owning doctor and admins; a student of another level does not exist here ---
	e.accommodate(ex.ID, doc, w.other, map[string]any{"extra_seconds": 60}).wantError(t, http.StatusNotFound, "not_found")
	e.put(path+"00000000-0000-4000-8000-000000000000", doc.Access, map[string]any{"extra_seconds": 60}).wantError(t, http.StatusNotFound, "not_found")
	e.accommodate(ex.ID, w.doctor2, a, map[string]any{"extra_seconds": 60}).wantError(t, http.StatusForbidden, "forbidden")
	e.accommodate(ex.ID, a, a, map[string]any{"extra_seconds": 60}).wantError(t, http.StatusForbidden, "forbidden")
	if n := len(e.events("/exams/"+ex.ID+"/events?type=exam.accommodation_set.v1", doc)); n != 0 {
		t.Fatalf("refused requests recorded %d accommodations", n)
	}

	// Before the start: accepted, no deadline yet.
	var before accommodationView
	e.accommodate(ex.ID, e.admin, a2, map[string]any{"extra_seconds": 0, "time_multiplier": 1.5}).want(t, http.StatusOK).decode(t, &before)
	if before.Deadline != nil || before.TimeMultiplier != 1.5 || before.StudentID != a2.ID {
		t.Fatalf("accommodation before the start: %+v", before)
	}

	// --- live: A starts (10 minutes), gets 10 more at once ---
	e.post("/exams/"+ex.ID+"/attempt", a.Access, nil).want(t, http.StatusCreated)
	st := e.attemptOf(ex.ID, a)
	started := mustTime(t, &st.StartedAt)
	if got := mustTime(t, st.Deadline); !got.Equal(started.Add(600 * time.Second)) {
		t.Fatalf("deadline %v, want started+600s (%v)", got, started.Add(600*time.Second))
	}
	if now := mustTime(t, &st.Now); now.Before(started) || st.ExtraSeconds != 0 {
		t.Fatalf("attempt now %v (started %v), extra %d", now, started, st.ExtraSeconds)
	}
	var got accommodationView
	e.accommodate(ex.ID, doc, a, map[string]any{"extra_seconds": 600}).want(t, http.StatusOK).decode(t, &got)
	if got.ExtraSeconds != 600 || got.TimeMultiplier != 1 || !mustTime(t, got.Deadline).Equal(started.Add(1200*time.Second)) {
		t.Fatalf("PUT answered %+v, want extra 600, multiplier 1, deadline started+1200s", got)
	}
	st = e.attemptOf(ex.ID, a)
	if !mustTime(t, st.Deadline).Equal(started.Add(1200*time.Second)) || st.ExtraSeconds != 600 {
		t.Fatalf("GET attempt after the accommodation: deadline %v extra %d", *st.Deadline, st.ExtraSeconds)
	}
	e.answer(ex.ID, "q1", a, "b").want(t, http.StatusOK)

	// A2 (multiplier 1.5, no extra) starts: 900 s.
	e.post("/exams/"+ex.ID+"/attempt", a2.Access, nil).want(t, http.StatusCreated)
	st2 := e.attemptOf(ex.ID, a2)
	started2 := mustTime(t, &st2.StartedAt)
	if !mustTime(t, st2.Deadline).Equal(started2.Add(900 * time.Second)) {
		t.Fatalf("A2 with ×1.5: deadline %v, want started+900s", *st2.Deadline)
	}

	// --- past the old deadline: 15 minutes later A's first 10 are long gone ---
	e.clock.Advance(15 * time.Minute)
	e.answer(ex.ID, "q3", a2, "true").wantError(t, http.StatusConflict, "deadline_passed")
	e.answer(ex.ID, "q3", a, "true").want(t, http.StatusOK) // A is within started+20 min
	// A2's deadline had passed (not submitted): five more minutes reopen it.
	var moved accommodationView
	e.accommodate(ex.ID, doc, a2, map[string]any{"extra_seconds": 300, "time_multiplier": 1.5}).want(t, http.StatusOK).decode(t, &moved)
	if !mustTime(t, moved.Deadline).Equal(started2.Add(1200 * time.Second)) {
		t.Fatalf("A2 moved deadline %v, want started+1200s", *moved.Deadline)
	}
	e.answer(ex.ID, "q3", a2, "true").want(t, http.StatusOK)

	// --- removal: the exam's deadline again, at once ---
	r := e.call(http.MethodDelete, path+a2.ID, doc.Access, nil)
	r.want(t, http.StatusNoContent)
	e.answer(ex.ID, "q1", a2, "b").wantError(t, http.StatusConflict, "deadline_passed")
	if st2 = e.attemptOf(ex.ID, a2); !mustTime(t, st2.Deadline).Equal(started2.Add(600*time.Second)) || st2.ExtraSeconds != 0 {
		t.Fatalf("after DELETE: deadline %v extra %d", *st2.Deadline, st2.ExtraSeconds)
	}
	e.call(http.MethodDelete, path+a2.ID, doc.Access, nil).want(t, http.StatusNoContent) // none: a no-op

	// The audit trail: who, when, what.
	set := e.events("/exams/"+ex.ID+"/events?type=exam.accommodation_set.v1", doc)
	removed := e.events("/exams/"+ex.ID+"/events?type=exam.accommodation_removed.v1", doc)
	if len(set) != 3 || len(removed) != 1 {
		t.Fatalf("audit: %d set, %d removed; want 3 and 1", len(set), len(removed))
	}
	if set[0].Actor.ID != e.admin.ID || set[1].Actor.ID != doc.ID || set[1].Data["student_id"] != a.ID || set[1].Data["extra_seconds"] != float64(600) {
		t.Fatalf("audit entries: %+v", set)
	}
	if n := len(e.events("/exams/"+ex.ID+"/events?student_id="+a.ID+"&type=exam.accommodation_set.v1", doc)); n != 1 {
		t.Fatalf("filtering the audit by student: %d events, want 1", n)
	}

	// --- a doctor's close is final for everyone, A's extra time too ---
	e.post("/exams/"+ex.ID+"/close", doc.Access, nil).want(t, http.StatusAccepted)
	e.answer(ex.ID, "q4", a, "a").wantError(t, http.StatusConflict, "exam_not_open")
	e.accommodate(ex.ID, doc, a, map[string]any{"extra_seconds": 900}).wantError(t, http.StatusConflict, "exam_not_open")
	e.waitGraded(ex.ID, doc, 2)
	e.accommodate(ex.ID, doc, a, map[string]any{"extra_seconds": 900}).wantError(t, http.StatusConflict, "exam_not_open")
	e.call(http.MethodDelete, path+a.ID, doc.Access, nil).wantError(t, http.StatusConflict, "exam_not_open")
	res := e.results(ex.ID, doc)
	// A: q1 b (2) + q3 true saved at 15 min, inside A's 20 (1) = 3.
	// A2: q3 true saved inside the moved deadline, but the accommodation
	// was then removed: the rule in force at grading counts it out = 0.
	if res[a.ID].Score != 3 || res[a2.ID].Score != 0 {
		t.Fatalf("scores: A %v (want 3), A2 %v (want 0)", res[a.ID].Score, res[a2.ID].Score)
	}
	// A regrade replays the same events: the same scores.
	var rg struct {
		Changed []any `json:"changed"`
	}
	e.post("/exams/"+ex.ID+"/regrade", doc.Access, map[string]any{"dry_run": true}).want(t, http.StatusOK).decode(t, &rg)
	if len(rg.Changed) != 0 {
		t.Fatalf("a replay changes scores: %+v", rg.Changed)
	}
}

// TestAccommodationBeyondClosesAt: when closes_at passes, the exam stays
// open for the student with extra time only, and closes for grading when
// that student's own deadline passes; a second exam closes as soon as its
// only accommodated student submits.
func TestAccommodationBeyondClosesAt(t *testing.T) {
	t.Parallel()
	e := start(t, withAccessTTL(24*time.Hour))
	w := e.world()
	doc, a, a2 := w.doctor, w.studentA, w.studentA2
	late := e.student(w.levelA) // never started before closes_at
	now := e.clock.Now().Truncate(time.Second)
	closes := now.Add(30 * time.Minute)
	ex := e.publishedExam(doc, w.levelA, map[string]any{"closes_at": closes.Format(time.RFC3339)})
	early := e.publishedExam(doc, w.levelA, map[string]any{"closes_at": closes.Format(time.RFC3339)})

	var acc accommodationView
	e.accommodate(ex.ID, doc, a, map[string]any{"extra_seconds": 600}).want(t, http.StatusOK).decode(t, &acc)
	if acc.Deadline != nil {
		t.Fatalf("not started: deadline %v, want null", *acc.Deadline)
	}
	e.accommodate(early.ID, doc, a, map[string]any{"extra_seconds": 600}).want(t, http.StatusOK)
	e.answer(ex.ID, "q1", a, "b").want(t, http.StatusOK)
	e.answer(ex.ID, "q1", a2, "b").want(t, http.StatusOK)
	e.answer(early.ID, "q1", a, "b").want(t, http.StatusOK)
	if d := mustTime(t, e.attemptOf(ex.ID, a).Deadline); !d.Equal(closes.Add(10 * time.Minute)) {
		t.Fatalf("A's deadline %v, want closes_at + 10 min", d)
	}

	// closes_at passes.
	e.clock.Advance(31 * time.Minute)
	time.Sleep(150 * time.Millisecond) // several scheduler ticks
	if st := e.getExam(ex.ID, doc).Status; st != "open" {
		t.Fatalf("status %q after closes_at with a student still working, want open", st)
	}
	e.answer(ex.ID, "q3", a2, "true").wantError(t, http.StatusConflict, "exam_not_open")
	e.post("/exams/"+ex.ID+"/attempt", late.Access, nil).wantError(t, http.StatusConflict, "exam_not_open")
	e.answer(ex.ID, "q3", a, "true").want(t, http.StatusOK) // A only

	// The other exam closes once A, its only accommodated student, submits.
	if st := e.getExam(early.ID, doc).Status; st != "open" {
		t.Fatalf("early exam status %q, want open while A works", st)
	}
	e.post("/exams/"+early.ID+"/submit", a.Access, nil).want(t, http.StatusOK)
	e.waitGraded(early.ID, doc, 1)

	// A's own deadline passes: the exam closes for grading by itself.
	e.clock.Advance(10 * time.Minute)
	e.waitGraded(ex.ID, doc, 2)
	res := e.results(ex.ID, doc)
	if res[a.ID].Score != 3 || res[a2.ID].Score != 2 {
		t.Fatalf("scores: A %v (want 3: q3 in the extra time counts), A2 %v (want 2)", res[a.ID].Score, res[a2.ID].Score)
	}
	closed := e.events("/exams/"+ex.ID+"/events?type=exam.closed.v1", doc)
	if len(closed) != 1 || closed[0].Data["reason"] != "schedule" {
		t.Fatalf("close events: %+v", closed)
	}
	if at, _ := closed[0].Data["closed_at"].(string); at != closes.Add(10*time.Minute).UTC().Format(time.RFC3339) {
		t.Fatalf("closed_at %v, want A's deadline %v", closed[0].Data["closed_at"], closes.Add(10*time.Minute).UTC().Format(time.RFC3339))
	}
}
