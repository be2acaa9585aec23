package component_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

type attemptView struct {
	AttemptID   string              `json:"attempt_id"`
	ExamID      string              `json:"exam_id"`
	Status      string              `json:"status"`
	StartedAt   string              `json:"started_at"`
	Deadline    *string             `json:"deadline"`
	SubmittedAt *string             `json:"submitted_at"`
	Answers     map[string][]string `json:"answers"`
}

func (e *env) attempt(examID string, s *user) attemptView {
	e.t.Helper()
	var a attemptView
	e.get("/exams/"+examID+"/attempt", s.Access).want(e.t, http.StatusOK).decode(e.t, &a)
	return a
}

func TestAnswerRules(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	s := w.studentA

	t.Run("start twice gives the same attempt, 201 then 200", func(t *testing.T) {
		ex := e.publishedExam(w.doctor, w.levelA, map[string]any{"time_limit_seconds": 600})
		var first, second attemptView
		e.post("/exams/"+ex.ID+"/attempt", s.Access, nil).want(t, http.StatusCreated).decode(t, &first)
		e.post("/exams/"+ex.ID+"/attempt", s.Access, nil).want(t, http.StatusOK).decode(t, &second)
		if first.AttemptID == "" || first.AttemptID != second.AttemptID || first.Status != "in_progress" || first.ExamID != ex.ID {
			t.Fatalf("attempts differ or are malformed: %+v / %+v", first, second)
		}
		started, _ := time.Parse(time.RFC3339, first.StartedAt)
		deadline, _ := time.Parse(time.RFC3339, *first.Deadline)
		if got := deadline.Sub(started); got != 600*time.Second {
			t.Errorf("deadline is %v after the start, want the 10 minute time limit", got)
		}
		// Another student gets another attempt.
		var other attemptView
		e.post("/exams/"+ex.ID+"/attempt", w.studentA2.Access, nil).want(t, http.StatusCreated).decode(t, &other)
		if other.AttemptID == first.AttemptID {
			t.Fatal("two students share an attempt")
		}
	})

	t.Run("concurrent starts make one attempt", func(t *testing.T) {
		ex := e.publishedExam(w.doctor, w.levelA, nil)
		const n = 6
		out := make([]*resp, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { out[i] = e.post("/exams/"+ex.ID+"/attempt", s.Access, nil) })
		}
		wg.Wait()
		created := 0
		for _, r := range out {
			r.want(t, http.StatusCreated, http.StatusOK)
			if r.status == http.StatusCreated {
				created++
			}
			if r.obj(t)["attempt_id"] != out[0].obj(t)["attempt_id"] {
				t.Fatalf("different attempts: %s / %s", out[0], r)
			}
		}
		if created != 1 {
			t.Fatalf("%d responses said 201 Created, want exactly 1", created)
		}
		if n := len(e.events("/exams/"+ex.ID+"/events?type=attempt.started.v1", w.doctor)); n != 1 {
			t.Fatalf("%d attempt.started.v1 events, want 1", n)
		}
	})

	t.Run("deadline is the earlier of closes_at and the time limit", func(t *testing.T) {
		closes := e.clock.Now().Add(5 * time.Minute).UTC()
		ex := e.publishedExam(w.doctor, w.levelA, map[string]any{"time_limit_seconds": 3600, "closes_at": closes.Format(time.RFC3339)})
		var a attemptView
		e.post("/exams/"+ex.ID+"/attempt", s.Access, nil).want(t, http.StatusCreated).decode(t, &a)
		if a.Deadline == nil || *a.Deadline != closes.Format(time.RFC3339) {
			t.Fatalf("deadline = %v, want closes_at %s", a.Deadline, closes.Format(time.RFC3339))
		}
	})

	t.Run("answers replace earlier answers and start the attempt", func(t *testing.T) {
		ex := e.publishedExam(w.doctor, w.levelA, nil)
		r := e.answer(ex.ID, "q2", s, "a", "c").want(t, http.StatusOK).obj(t)
		if r["question_id"] != "q2" || r["saved_at"] == nil || len(r["choices"].([]any)) != 2 {
			t.Fatalf("saved answer shape: %v", r)
		}
		e.answer(ex.ID, "q2", s, "b").want(t, http.StatusOK)
		e.answer(ex.ID, "q1", s, "a").want(t, http.StatusOK)
		e.answer(ex.ID, "q1", s).want(t, http.StatusOK) // an empty list clears the answer
		a := e.attempt(ex.ID, s)
		if a.Status != "in_progress" || !slices.Equal(a.Answers["q2"], []string{"b"}) || len(a.Answers["q1"]) != 0 {
			t.Fatalf("attempt = %+v", a)
		}
		e.answer(ex.ID, "q9", s, "a").wantError(t, http.StatusNotFound, "not_found")
	})

	t.Run("after submit answers get 409 attempt_submitted", func(t *testing.T) {
		ex := e.publishedExam(w.doctor, w.levelA, nil)
		e.answer(ex.ID, "q1", s, "b").want(t, http.StatusOK)
		sub := e.post("/exams/"+ex.ID+"/submit", s.Access, nil).want(t, http.StatusOK).obj(t)
		if sub["status"] != "submitted" || sub["attempt_id"] == "" || sub["submitted_at"] == nil {
			t.Fatalf("submit response: %v", sub)
		}
		before := e.head()
		e.answer(ex.ID, "q1", s, "a").wantError(t, http.StatusConflict, "attempt_submitted")
		e.post("/exams/"+ex.ID+"/answers", s.Access, map[string]any{"answers": []map[string]any{{"question_id": "q3", "choices": []string{"true"}}}}).
			wantError(t, http.StatusConflict, "attempt_submitted")
		if e.head() != before {
			t.Fatal("refused answers were appended")
		}
		a := e.attempt(ex.ID, s)
		if a.Status != "submitted" || a.SubmittedAt == nil || !slices.Equal(a.Answers["q1"], []string{"b"}) || len(a.Answers) != 1 {
			t.Fatalf("attempt after submit = %+v", a)
		}
		// Submitting again changes nothing.
		e.post("/exams/"+ex.ID+"/submit", s.Access, nil).want(t, http.StatusOK)
	})

	t.Run("after the time limit answers get 409 deadline_passed", func(t *testing.T) {
		ex := e.publishedExam(w.doctor, w.levelA, map[string]any{"time_limit_seconds": 60})
		e.answer(ex.ID, "q1", s, "b").want(t, http.StatusOK)
		e.clock.Advance(59 * time.Second)
		e.answer(ex.ID, "q1", s, "c").want(t, http.StatusOK)
		e.clock.Advance(time.Second)
		e.answer(ex.ID, "q1", s, "a").wantError(t, http.StatusConflict, "deadline_passed")
		e.post("/exams/"+ex.ID+"/answers", s.Access, map[string]any{"answers": []map[string]any{{"question_id": "q3", "choices": []string{"true"}}}}).
			wantError(t, http.StatusConflict, "deadline_passed")
		if a := e.attempt(ex.ID, s); !slices.Equal(a.Answers["q1"], []string{"c"}) || len(a.Answers) != 1 {
			t.Fatalf("late answer changed the attempt: %+v", a.Answers)
		}
		// A student who starts now still has a full minute.
		e.answer(ex.ID, "q1", w.studentA2, "b").want(t, http.StatusOK)
	})

	t.Run("after close answers get 409 exam_not_open", func(t *testing.T) {
		ex := e.publishedExam(w.doctor, w.levelA, nil)
		e.answer(ex.ID, "q1", s, "b").want(t, http.StatusOK)
		e.post("/exams/"+ex.ID+"/close", w.doctor.Access, nil).want(t, http.StatusAccepted)
		e.answer(ex.ID, "q1", s, "a").wantError(t, http.StatusConflict, "exam_not_open")
		e.post("/exams/"+ex.ID+"/attempt", w.studentA2.Access, nil).wantError(t, http.StatusConflict, "exam_not_open")
		e.post("/exams/"+ex.ID+"/submit", w.studentA2.Access, nil).wantError(t, http.StatusConflict, "exam_not_open")
		// Closing again is a no-op answered with 200.
		var again examView
		e.post("/exams/"+ex.ID+"/close", w.doctor.Access, nil).want(t, http.StatusOK).decode(t, &again)
		if again.Status != "closed" && again.Status != "graded" {
			t.Fatalf("status after a second close = %q", again.Status)
		}
		e.waitGraded(ex.ID, w.doctor, 1) // quiet again before the next case measures the head
	})

	t.Run("a draft exam does not exist for students", func(t *testing.T) {
		ex := e.draftExam(w.doctor, w.levelA, nil)
		e.get("/exams/"+ex.ID, s.Access).wantError(t, http.StatusNotFound, "not_found")
		e.post("/exams/"+ex.ID+"/attempt", s.Access, nil).wantError(t, http.StatusNotFound, "not_found")
		e.answer(ex.ID, "q1", s, "b").wantError(t, http.StatusNotFound, "not_found")
		e.post("/exams/"+ex.ID+"/submit", s.Access, nil).wantError(t, http.StatusNotFound, "not_found")
		e.get("/exams/"+ex.ID+"/attempt", s.Access).wantError(t, http.StatusNotFound, "not_found")
		e.get("/exams/"+ex.ID+"/result", s.Access).wantError(t, http.StatusNotFound, "not_found")
		// Closing a draft: it was never open.
		e.post("/exams/"+ex.ID+"/close", w.doctor.Access, nil).wantError(t, http.StatusConflict, "exam_not_open")
	})

	t.Run("a scheduled exam refuses attempts before it opens", func(t *testing.T) {
		ex := e.publishedExam(w.doctor, w.levelA, map[string]any{"opens_at": e.clock.Now().Add(time.Hour).Format(time.RFC3339)})
		if ex.Status != "scheduled" {
			t.Fatalf("status = %q, want scheduled", ex.Status)
		}
		e.post("/exams/"+ex.ID+"/attempt", s.Access, nil).wantError(t, http.StatusConflict, "exam_not_open")
		e.answer(ex.ID, "q1", s, "b").wantError(t, http.StatusConflict, "exam_not_open")
	})

	t.Run("a batch is all or nothing", func(t *testing.T) {
		ex := e.publishedExam(w.doctor, w.levelA, nil)
		e.post("/exams/"+ex.ID+"/attempt", s.Access, nil).want(t, http.StatusCreated)
		e.answer(ex.ID, "q4", s, "a").want(t, http.StatusOK)
		before := e.head()
		batches := []struct {
			name   string
			body   map[string]any
			status int
			code   string
		}{
			{"one invalid choice", map[string]any{"answers": []map[string]any{
				{"question_id": "q1", "choices": []string{"b"}}, {"question_id": "q2", "choices": []string{"a", "x"}}, {"question_id": "q4", "choices": []string{"b"}}}},
				http.StatusBadRequest, "invalid_choice"},
			{"one unknown question", map[string]any{"answers": []map[string]any{
				{"question_id": "q1", "choices": []string{"b"}}, {"question_id": "nope", "choices": []string{"a"}}}},
				http.StatusNotFound, "not_found"},
			{"a question twice", map[string]any{"answers": []map[string]any{
				{"question_id": "q1", "choices": []string{"b"}}, {"question_id": "q1", "choices": []string{"a"}}}},
				http.StatusBadRequest, "validation_failed"},
			{"an answer without choices", map[string]any{"answers": []map[string]any{
				{"question_id": "q1", "choices": []string{"b"}}, {"question_id": "q3"}}},
				http.StatusBadRequest, "validation_failed"},
		}
		for _, b := range batches {
			e.post("/exams/"+ex.ID+"/answers", s.Access, b.body).wantError(t, b.status, b.code)
			if e.head() != before {
				t.Fatalf("%s: part of a refused batch was appended", b.name)
			}
			if a := e.attempt(ex.ID, s); len(a.Answers) != 1 || !slices.Equal(a.Answers["q4"], []string{"a"}) {
				t.Fatalf("%s: a refused batch changed the answers: %v", b.name, a.Answers)
			}
		}
		got := e.post("/exams/"+ex.ID+"/answers", s.Access, map[string]any{"answers": []map[string]any{
			{"question_id": "q1", "choices": []string{"b"}}, {"question_id": "q2", "choices": []string{"a", "d"}}, {"question_id": "q4", "choices": []string{"b"}}}}).
			want(t, http.StatusOK).obj(t)
		if got["saved"] != float64(3) {
			t.Fatalf("saved = %v, want 3", got["saved"])
		}
		a := e.attempt(ex.ID, s)
		if len(a.Answers) != 3 || !slices.Equal(a.Answers["q2"], []string{"a", "d"}) || !slices.Equal(a.Answers["q4"], []string{"b"}) {
			t.Fatalf("answers after a good batch: %v", a.Answers)
		}
	})
}
