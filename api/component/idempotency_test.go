package component_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// idempotentCommand is a command retried with an Idempotency-Key.
type idempotentCommand struct {
	name, method string
	path         func() string
	token        func() string
	// body returns a fresh valid body; other returns a different one.
	body, other func() any
	status      int
	// count reports how many times the command took effect, read through
	// the API.
	count func(t *testing.T, body any) int
}

func idempotentCommands(t *testing.T, e *env, w *world) []idempotentCommand {
	countLevels := func(t *testing.T, body any) int {
		var l struct{ Items []struct{ Name string } }
		e.get("/levels?limit=500", e.admin.Access).want(t, http.StatusOK).decode(t, &l)
		n := 0
		for _, it := range l.Items {
			if it.Name == body.(map[string]any)["name"] {
				n++
			}
		}
		return n
	}
	countUsers := func(t *testing.T, body any) int {
		var l struct{ Items []userView }
		e.get("/users?limit=500&role=doctor", e.admin.Access).want(t, http.StatusOK).decode(t, &l)
		n := 0
		for _, it := range l.Items {
			if it.FullName == body.(map[string]any)["full_name"] {
				n++
			}
		}
		return n
	}
	countExams := func(t *testing.T, body any) int {
		var l struct{ Items []examView }
		e.get("/exams?limit=500", w.doctor.Access).want(t, http.StatusOK).decode(t, &l)
		n := 0
		for _, it := range l.Items {
			if it.Title == body.(map[string]any)["title"] {
				n++
			}
		}
		return n
	}
	var answerExam string
	answerPath := func() string {
		answerExam = e.publishedExam(w.doctor, w.levelA, nil).ID
		return "/exams/" + answerExam + "/answers/q2"
	}
	countAnswers := func(t *testing.T, _ any) int {
		evs := e.events("/exams/"+answerExam+"/events?type=attempt.answer_saved.v1&student_id="+w.studentA.ID, w.doctor)
		if n := countTypes(e.events("/exams/"+answerExam+"/events?type=attempt.started.v1", w.doctor))["attempt.started.v1"]; n != 1 {
			t.Errorf("attempt started %d times, want once", n)
		}
		return len(evs)
	}
	return []idempotentCommand{
		{"POST /levels", "POST", func() string { return "/levels" }, func() string { return e.admin.Access },
			func() any { return map[string]any{"name": e.unique("Idem level")} },
			func() any { return map[string]any{"name": e.unique("Other level")} }, http.StatusCreated, countLevels},
		{"POST /users", "POST", func() string { return "/users" }, func() string { return e.admin.Access },
			func() any {
				n := e.unique("idem")
				return map[string]any{"email": n + "@school.test", "password": "long-enough-1", "full_name": n, "role": "doctor"}
			},
			func() any {
				n := e.unique("idem-other")
				return map[string]any{"email": n + "@school.test", "password": "long-enough-1", "full_name": n, "role": "doctor"}
			}, http.StatusCreated, countUsers},
		{"POST /exams", "POST", func() string { return "/exams" }, func() string { return w.doctor.Access },
			func() any { return examBody(e.unique("Idem exam"), w.levelA, nil) },
			func() any { return examBody(e.unique("Other exam"), w.levelA, nil) }, http.StatusCreated, countExams},
		{"PUT /exams/{id}/answers/{qid}", "PUT", answerPath, func() string { return w.studentA.Access },
			func() any { return map[string]any{"choices": []string{"a", "c"}} },
			func() any { return map[string]any{"choices": []string{"b"}} }, http.StatusOK, countAnswers},
	}
}

func TestIdempotentRetries(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	for _, c := range idempotentCommands(t, e, w) {
		t.Run(c.name, func(t *testing.T) {
			path, tok, body := c.path(), c.token(), c.body()
			key := e.unique("key")
			first := e.call(c.method, path, tok, body, "Idempotency-Key", key).want(t, c.status)
			if first.header.Get("Idempotent-Replayed") != "" {
				t.Errorf("first response marked as replayed")
			}
			head := e.head()

			retry := e.call(c.method, path, tok, body, "Idempotency-Key", key)
			if retry.status != first.status || !bytes.Equal(retry.body, first.body) {
				t.Fatalf("retry differs from the first response:\nfirst %s\nretry %s", first, retry)
			}
			if got := retry.header.Get("Idempotent-Replayed"); got != "true" {
				t.Errorf("Idempotent-Replayed = %q, want true", got)
			}
			if now := e.head(); now != head {
				t.Fatalf("retry appended events: head %d -> %d", head, now)
			}

			e.call(c.method, path, tok, c.other(), "Idempotency-Key", key).wantError(t, http.StatusConflict, "idempotency_key_reused")
			if now := e.head(); now != head {
				t.Fatalf("reused key appended events: head %d -> %d", head, now)
			}
			if n := c.count(t, body); n != 1 {
				t.Fatalf("command took effect %d times, want once", n)
			}
			// The key belongs to the request: without it the command runs again.
			if c.method == "POST" && c.name == "POST /levels" {
				e.call(c.method, path, tok, body).want(t, c.status)
				if n := c.count(t, body); n != 2 {
					t.Fatalf("a new request without the key took effect %d times in all, want 2", n)
				}
			}
		})
	}
}

// TestIdempotentConcurrentDuplicates: the same request sent by several
// goroutines at once with one key takes effect once and every sender gets
// the same answer.
func TestIdempotentConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	const senders = 4
	for _, c := range idempotentCommands(t, e, w) {
		t.Run(c.name, func(t *testing.T) {
			for round := range 3 {
				path, tok, body := c.path(), c.token(), c.body()
				key := fmt.Sprintf("%s-%d", e.unique("concurrent"), round)
				var wg sync.WaitGroup
				out := make([]*resp, senders)
				for i := range senders {
					wg.Go(func() { out[i] = e.call(c.method, path, tok, body, "Idempotency-Key", key) })
				}
				wg.Wait()
				for i, r := range out {
					if r.status != c.status {
						t.Fatalf("sender %d: want %d: %s", i, c.status, r)
					}
					if !bytes.Equal(r.body, out[0].body) {
						t.Errorf("senders got different answers:\n%s\n%s", out[0], r)
					}
				}
				if n := c.count(t, body); n != 1 {
					t.Fatalf("round %d: command took effect %d times, want once", round, n)
				}
			}
		})
	}
}

// TestIdempotentExamCommands: the exam and attempt commands without a body
// replay too; without a key, repeating them is answered by the rules.
func TestIdempotentExamCommands(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	draft := e.draftExam(w.doctor, w.levelA, nil)
	cases := []struct {
		name, method, path string
		who                *user
		body               any
		status             int
	}{
		{"publish", "POST", "/exams/" + draft.ID + "/publish", w.doctor, nil, http.StatusOK},
		{"start attempt", "POST", "/exams/" + draft.ID + "/attempt", w.studentA, nil, http.StatusCreated},
		{"batch of answers", "POST", "/exams/" + draft.ID + "/answers", w.studentA,
			map[string]any{"answers": []map[string]any{{"question_id": "q1", "choices": []string{"b"}}}}, http.StatusOK},
		{"submit", "POST", "/exams/" + draft.ID + "/submit", w.studentA, nil, http.StatusOK},
		{"answer key", "PUT", "/exams/" + draft.ID + "/questions/q4/answer-key", w.doctor, map[string]any{"correct": []string{"b"}}, http.StatusOK},
		{"close", "POST", "/exams/" + draft.ID + "/close", w.doctor, nil, http.StatusAccepted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := e.unique("key")
			first := e.call(c.method, c.path, c.who.Access, c.body, "Idempotency-Key", key).want(t, c.status)
			head := e.head()
			retry := e.call(c.method, c.path, c.who.Access, c.body, "Idempotency-Key", key)
			if retry.status != first.status || !bytes.Equal(retry.body, first.body) || retry.header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("retry is not a replay:\nfirst %s\nretry %s", first, retry)
			}
			// (A close starts the grading, which appends in the background.)
			if c.name != "close" && e.head() != head {
				t.Fatal("the retry appended events")
			}
		})
	}
	if n := len(e.events("/exams/"+draft.ID+"/events?type=exam.closed.v1", w.doctor)); n != 1 {
		t.Fatalf("%d exam.closed.v1 events, want 1", n)
	}
	// Without a key the rules answer: publishing twice is not allowed.
	e.post("/exams/"+draft.ID+"/publish", w.doctor.Access, nil).wantError(t, http.StatusConflict, "exam_not_editable")
	// Keys are per user: another doctor's identical key is another request.
	e.post("/levels", e.admin.Access, map[string]any{"name": "L1"}, "Idempotency-Key", "shared").want(t, http.StatusCreated)
	e.post("/exams", w.doctor2.Access, examBody("E", w.levelB, nil), "Idempotency-Key", "shared").want(t, http.StatusCreated)
	// An over-long key is refused.
	e.post("/levels", e.admin.Access, map[string]any{"name": "L2"}, "Idempotency-Key", strings.Repeat("k", 201)).
		wantError(t, http.StatusBadRequest, "validation_failed")
}
