package component_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNoAnswerKeyReachesStudentsBeforeGrading collects every response a
// student can get about an exam before it is graded — including after a
// key correction and after replays — and fails if any carries a "correct"
// field. Once graded, the student's exam and result do carry the key.
func TestNoAnswerKeyReachesStudentsBeforeGrading(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	ex := e.publishedExam(w.doctor, w.levelA, map[string]any{"time_limit_seconds": 3600})
	s := w.studentA
	id := ex.ID

	var seen []*resp
	see := func(r *resp) *resp { seen = append(seen, r); return r }

	see(e.get("/exams/"+id, s.Access).want(t, http.StatusOK))
	see(e.get("/exams", s.Access).want(t, http.StatusOK))
	see(e.get("/exams?status=open", s.Access).want(t, http.StatusOK))
	see(e.get("/exams?level_id="+w.levelA, s.Access).want(t, http.StatusOK))
	see(e.get("/exams/"+id+"/attempt", s.Access).wantError(t, http.StatusNotFound, "not_found"))
	see(e.post("/exams/"+id+"/attempt", s.Access, nil).want(t, http.StatusCreated))
	see(e.post("/exams/"+id+"/attempt", s.Access, nil).want(t, http.StatusOK))
	see(e.answer(id, "q1", s, "a").want(t, http.StatusOK))
	see(e.put("/exams/"+id+"/answers/q2", s.Access, map[string]any{"choices": []string{"a", "c"}}, "Idempotency-Key", "k1").want(t, http.StatusOK))
	see(e.put("/exams/"+id+"/answers/q2", s.Access, map[string]any{"choices": []string{"a", "c"}}, "Idempotency-Key", "k1").want(t, http.StatusOK))
	see(e.post("/exams/"+id+"/answers", s.Access, map[string]any{"answers": []map[string]any{
		{"question_id": "q3", "choices": []string{"true"}}, {"question_id": "q4", "choices": []string{"b"}}}}).want(t, http.StatusOK))
	see(e.answer(id, "q1", s, "zz").wantError(t, http.StatusBadRequest, "invalid_choice"))
	see(e.get("/exams/"+id+"/attempt", s.Access).want(t, http.StatusOK))
	see(e.get("/exams/"+id+"/result", s.Access).wantError(t, http.StatusConflict, "not_graded"))

	// The doctor fixes a key while the exam is open: the student's cached
	// document is rebuilt, still without keys.
	e.put("/exams/"+id+"/questions/q4/answer-key", w.doctor.Access, map[string]any{"correct": []string{"b"}}).want(t, http.StatusOK)
	see(e.get("/exams/"+id, s.Access).want(t, http.StatusOK))
	see(e.post("/exams/"+id+"/submit", s.Access, nil).want(t, http.StatusOK))
	see(e.answer(id, "q1", s, "b").wantError(t, http.StatusConflict, "attempt_submitted"))
	see(e.get("/exams/"+id+"/attempt", s.Access).want(t, http.StatusOK))
	see(e.get("/me/results", s.Access).want(t, http.StatusOK))
	see(e.get("/me", s.Access).want(t, http.StatusOK))
	// Endpoints of staff, refused.
	see(e.get("/exams/"+id+"/events", s.Access).want(t, http.StatusForbidden))
	see(e.get("/exams/"+id+"/results", s.Access).want(t, http.StatusForbidden))
	see(e.get("/audit/events?type=exam.drafted.v1", s.Access).want(t, http.StatusForbidden))
	// A student of another level learns nothing either.
	see(e.get("/exams/"+id, w.other.Access).want(t, http.StatusNotFound))

	for _, r := range seen {
		if strings.Contains(string(r.body), `"correct"`) {
			t.Errorf("answer key leaked to a student: %s", r)
		}
	}
	if len(seen) < 20 {
		t.Fatalf("only %d responses checked", len(seen))
	}
	// The doctor does see the keys (so the check above is meaningful).
	if ex := e.getExam(id, w.doctor); len(ex.Questions) != 4 || ex.Questions[3].Correct[0] != "b" {
		t.Fatalf("doctor's view lacks the keys: %+v", ex.Questions)
	}

	// After close, until graded: still no keys.
	e.post("/exams/"+id+"/close", w.doctor.Access, nil).want(t, http.StatusAccepted)
	if r := e.get("/exams/"+id, s.Access).want(t, http.StatusOK); strings.Contains(string(r.body), `"status":"closed"`) &&
		strings.Contains(string(r.body), `"correct"`) {
		t.Errorf("answer key leaked on a closed, ungraded exam: %s", r)
	}

	// Graded: the student's exam and result carry the keys.
	e.waitGraded(id, w.doctor, 1)
	var graded examView
	waitFor(t, "the student's view of the graded exam", func() bool {
		e.get("/exams/"+id, s.Access).want(t, http.StatusOK).decode(t, &graded)
		return graded.Status == "graded"
	})
	for _, q := range graded.Questions {
		if len(q.Correct) == 0 {
			t.Errorf("graded exam question %s lacks its key for the student", q.ID)
		}
	}
	var result struct {
		Questions []struct {
			QuestionID string   `json:"question_id"`
			Correct    []string `json:"correct"`
		} `json:"questions"`
	}
	e.get("/exams/"+id+"/result", s.Access).want(t, http.StatusOK).decode(t, &result)
	if len(result.Questions) != 4 {
		t.Fatalf("result lists %d questions, want 4", len(result.Questions))
	}
	for _, q := range result.Questions {
		if len(q.Correct) == 0 {
			t.Errorf("result question %s lacks its key", q.QuestionID)
		}
	}
	// Still nothing for the student of another level.
	e.get("/exams/"+id, w.other.Access).wantError(t, http.StatusNotFound, "not_found")
	e.get("/exams/"+id+"/result", w.other.Access).wantError(t, http.StatusNotFound, "not_found")
}

// TestStudentViewFollowsGrading: students reading an exam while it closes
// and grades must end up with the graded document (status and keys), not a
// cached copy of a state that was current when their read began.
func TestStudentViewFollowsGrading(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	for round := range 25 {
		ex := e.publishedExam(w.doctor, w.levelA, nil)
		e.answer(ex.ID, "q1", w.studentA, "b").want(t, http.StatusOK)
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				for !stop.Load() {
					e.call("GET", "/exams/"+ex.ID, w.studentA2.Access, nil, "X-Min-Position", "")
				}
			})
		}
		e.post("/exams/"+ex.ID+"/close", w.doctor.Access, nil).want(t, http.StatusAccepted)
		waitFor(t, "graded", func() bool { return e.getExam(ex.ID, w.doctor).Status == "graded" })
		time.Sleep(10 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		// The read model may lag a little; a stale cached copy never recovers.
		var v examView
		waitFor(t, "the student's view of round "+strconv.Itoa(round)+" to be graded", func() bool {
			e.call("GET", "/exams/"+ex.ID, w.studentA2.Access, nil, "X-Min-Position", "").want(t, http.StatusOK).decode(t, &v)
			return v.Status == "graded"
		})
		if len(v.Questions) == 0 || len(v.Questions[0].Correct) == 0 {
			t.Fatalf("round %d: the graded student view lacks the keys", round)
		}
	}
}
