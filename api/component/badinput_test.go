package component_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// mutating is a mutating endpoint that takes a JSON body.
type mutating struct {
	name, method, path, token string
	// valid is a body the endpoint accepts (used to build oversized and
	// mistyped requests); it is never sent as is.
	valid string
	// wrongType has one field of the wrong JSON type, named typeField.
	wrongType, typeField string
	// invalid is well-formed but fails validation on invalidField.
	invalid, invalidField string
}

// oversized is valid JSON just over the 1 MiB limit.
func oversized() string {
	return `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
}

// chunked hides the length of a body, so the server only finds out it is
// too large while reading.
type chunked struct{ io.Reader }

func TestBadInputIsRefusedAndAppendsNothing(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	draft := e.draftExam(w.doctor, w.levelA, nil)
	open := e.publishedExam(w.doctor, w.levelA, nil)
	e.post("/exams/"+open.ID+"/attempt", w.studentA.Access, nil).want(t, http.StatusCreated)
	doc, stu, adm := w.doctor.Access, w.studentA.Access, e.admin.Access

	endpoints := []mutating{
		{"login", "POST", "/auth/login", "", `{"email":"a@b.test","password":"whatever1"}`,
			`{"email":1,"password":"x"}`, "email", `{"email":"","password":""}`, "password"},
		{"refresh", "POST", "/auth/refresh", "", `{"refresh_token":"x"}`,
			`{"refresh_token":1}`, "refresh_token", `{"refresh_token":""}`, "refresh_token"},
		{"verify", "POST", "/auth/verify", "", `{"token":"x"}`,
			`{"token":true}`, "token", `{"token":""}`, "token"},
		{"logout", "POST", "/auth/logout", "", `{"refresh_token":"x"}`,
			`{"refresh_token":[]}`, "refresh_token", `{"refresh_token":""}`, "refresh_token"},
		{"create level", "POST", "/levels", adm, `{"name":"L"}`,
			`{"name":5}`, "name", `{"name":"   "}`, "name"},
		{"create user", "POST", "/users", adm, `{"email":"n@school.test","password":"long-enough","full_name":"N","role":"doctor"}`,
			`{"email":"n@school.test","password":12345678,"full_name":"N","role":"doctor"}`, "password",
			`{"email":"not-an-email","password":"short","full_name":"N","role":"student"}`, "email"},
		{"patch user", "PATCH", "/users/" + w.studentA2.ID, adm, `{"full_name":"N"}`,
			`{"active":"no"}`, "active", `{"password":"short"}`, "password"},
		{"create exam", "POST", "/exams", doc, `{"title":"T","level_id":"` + w.levelA + `","questions":[]}`,
			`{"title":1,"level_id":"` + w.levelA + `"}`, "title", `{"title":"","level_id":"` + w.levelA + `","questions":[]}`, "title"},
		{"replace exam", "PUT", "/exams/" + draft.ID, doc, `{"title":"T","level_id":"` + w.levelA + `","questions":[]}`,
			`{"title":"T","level_id":"` + w.levelA + `","time_limit_seconds":"60"}`, "time_limit_seconds",
			`{"title":"T","level_id":"` + w.levelA + `","time_limit_seconds":-5}`, "time_limit_seconds"},
		{"add question", "POST", "/exams/" + draft.ID + "/questions", doc, `{"text":"Q","kind":"true_false","correct":["true"]}`,
			`{"text":"Q","kind":"true_false","correct":["true"],"points":"2"}`, "points",
			`{"text":"","kind":"true_false","correct":["true"]}`, "text"},
		{"update question", "PUT", "/exams/" + draft.ID + "/questions/q3", doc, `{"text":"Q","kind":"true_false","correct":["true"]}`,
			`{"text":["Q"],"kind":"true_false","correct":["true"]}`, "text",
			`{"text":"Q","kind":"essay","correct":["true"]}`, "kind"},
		{"correct answer key", "PUT", "/exams/" + open.ID + "/questions/q1/answer-key", doc, `{"correct":["c"]}`,
			`{"correct":"c"}`, "correct", `{"correct":["zz"]}`, "correct"},
		{"regrade", "POST", "/exams/" + open.ID + "/regrade", doc, `{"dry_run":true}`,
			`{"dry_run":"yes"}`, "dry_run", `{}`, "dry_run"},
		{"save answer", "PUT", "/exams/" + open.ID + "/answers/q1", stu, `{"choices":["a"]}`,
			`{"choices":"a"}`, "choices", `{}`, "choices"},
		{"save answers", "POST", "/exams/" + open.ID + "/answers", stu, `{"answers":[{"question_id":"q1","choices":["a"]}]}`,
			`{"answers":{"question_id":"q1"}}`, "answers", `{"answers":[]}`, "answers"},
	}

	type badCase struct {
		name    string
		body    any
		headers hdr
		status  int
		code    string
		field   string // for validation_failed: details.fields must name it
	}
	cases := func(ep mutating) []badCase {
		return []badCase{
			{name: "malformed JSON", body: `{"name":`, status: 400, code: "invalid_json"},
			{name: "not JSON at all", body: `choices=a`, status: 400, code: "invalid_json"},
			{name: "trailing data", body: ep.valid + ` {}`, status: 400, code: "invalid_json"},
			{name: "unknown field", body: strings.TrimSuffix(ep.valid, "}") + `,"bogus":1}`, status: 400, code: "invalid_json"},
			{name: "wrong type", body: ep.wrongType, status: 400, code: "validation_failed", field: ep.typeField},
			{name: "empty body", body: "", status: 400, code: "invalid_json"},
			{name: "null", body: "null", status: 400, code: "invalid_json"},
			{name: "array instead of object", body: "[]", status: 400, code: "invalid_json"},
			{name: "validation error", body: ep.invalid, status: 400, code: "validation_failed", field: ep.invalidField},
			{name: "oversized", body: oversized(), status: 413, code: "payload_too_large"},
			{name: "oversized chunked", body: chunked{strings.NewReader(oversized())}, status: 413, code: "payload_too_large"},
			{name: "oversized chunked with idempotency key", body: chunked{strings.NewReader(oversized())},
				headers: hdr{"Idempotency-Key", e.unique("k")}, status: 413, code: "payload_too_large"},
			{name: "text/plain", body: ep.valid, headers: hdr{"Content-Type", "text/plain"}, status: 415, code: "unsupported_media_type"},
			{name: "form encoded", body: ep.valid, headers: hdr{"Content-Type", "application/x-www-form-urlencoded"}, status: 415, code: "unsupported_media_type"},
			{name: "json in latin1", body: ep.valid, headers: hdr{"Content-Type", "application/json; charset=latin1"}, status: 415, code: "unsupported_media_type"},
			{name: "no content type", body: ep.valid, headers: hdr{"Content-Type", ""}, status: 415, code: "unsupported_media_type"},
		}
	}

	head := e.head()
	for _, ep := range endpoints {
		for _, c := range cases(ep) {
			t.Run(ep.name+"/"+c.name, func(t *testing.T) {
				r := e.call(ep.method, ep.path, ep.token, c.body, c.headers...)
				r.wantError(t, c.status, c.code)
				if c.field != "" {
					if _, ok := r.fields(t)[c.field]; !ok {
						t.Errorf("details.fields does not name %q: %s", c.field, r)
					}
				}
				if now := e.head(); now != head {
					t.Fatalf("rejected request appended events: head %d -> %d", head, now)
				}
			})
		}
	}

	// Answers with choices the question does not have.
	invalidChoices := []struct {
		name, method, path, body string
	}{
		{"unknown key", "PUT", "/exams/" + open.ID + "/answers/q1", `{"choices":["z"]}`},
		{"two keys for a single question", "PUT", "/exams/" + open.ID + "/answers/q1", `{"choices":["a","b"]}`},
		{"the same key twice", "PUT", "/exams/" + open.ID + "/answers/q2", `{"choices":["a","a"]}`},
		{"a choice key of another question", "PUT", "/exams/" + open.ID + "/answers/q3", `{"choices":["a"]}`},
		{"batch with one unknown key", "POST", "/exams/" + open.ID + "/answers",
			`{"answers":[{"question_id":"q1","choices":["b"]},{"question_id":"q3","choices":["maybe"]}]}`},
	}
	for _, c := range invalidChoices {
		t.Run("invalid choice/"+c.name, func(t *testing.T) {
			e.call(c.method, c.path, stu, c.body).wantError(t, http.StatusBadRequest, "invalid_choice")
			if now := e.head(); now != head {
				t.Fatalf("rejected answer appended events: head %d -> %d", head, now)
			}
		})
	}

	// Validation errors that name every bad field at once.
	t.Run("exam with several problems names each field", func(t *testing.T) {
		body := map[string]any{"title": "", "level_id": w.levelA, "time_limit_seconds": -1,
			"questions": []map[string]any{
				{"text": "", "kind": "single", "choices": []map[string]string{{"text": "A"}}, "correct": []string{"z"}},
				{"text": "Q", "kind": "true_false", "correct": []string{"true", "false"}},
			}}
		f := e.post("/exams", doc, body).wantError(t, http.StatusBadRequest, "validation_failed").fields(t)
		for _, name := range []string{"title", "time_limit_seconds", "questions[0].text", "questions[0].choices", "questions[0].correct", "questions[1].correct"} {
			if _, ok := f[name]; !ok {
				t.Errorf("details.fields lacks %q: %v", name, f)
			}
		}
	})
	t.Run("exam of an unknown level", func(t *testing.T) {
		f := e.post("/exams", doc, examBody("T", "00000000-0000-0000-0000-000000000000", nil)).
			wantError(t, http.StatusBadRequest, "validation_failed").fields(t)
		if _, ok := f["level_id"]; !ok {
			t.Errorf("details.fields lacks level_id: %v", f)
		}
	})
	t.Run("student without a level and a short password", func(t *testing.T) {
		f := e.post("/users", adm, map[string]string{"email": "x@school.test", "password": "1234567", "full_name": "X", "role": "student"}).
			wantError(t, http.StatusBadRequest, "validation_failed").fields(t)
		for _, name := range []string{"level_id", "password"} {
			if _, ok := f[name]; !ok {
				t.Errorf("details.fields lacks %q: %v", name, f)
			}
		}
	})
	t.Run("duplicate email", func(t *testing.T) {
		e.post("/users", adm, map[string]string{"email": strings.ToUpper(w.doctor.Email), "password": "long-enough", "full_name": "X", "role": "doctor"}).
			wantError(t, http.StatusConflict, "email_taken")
	})
	t.Run("publishing a draft without questions", func(t *testing.T) {
		empty := e.draftExam(w.doctor, w.levelA, map[string]any{"questions": []any{}})
		before := e.head()
		f := e.post("/exams/"+empty.ID+"/publish", doc, nil).wantError(t, http.StatusBadRequest, "validation_failed").fields(t)
		if _, ok := f["questions"]; !ok {
			t.Errorf("details.fields lacks questions: %v", f)
		}
		if e.head() != before {
			t.Fatal("a refused publish appended events")
		}
	})
	t.Run("editing a published exam", func(t *testing.T) {
		before := e.head()
		e.put("/exams/"+open.ID, doc, examBody("T", w.levelA, nil)).wantError(t, http.StatusConflict, "exam_not_editable")
		e.post("/exams/"+open.ID+"/questions", doc, map[string]any{"text": "Q", "kind": "true_false", "correct": []string{"true"}}).
			wantError(t, http.StatusConflict, "exam_not_editable")
		e.call("DELETE", "/exams/"+open.ID+"/questions/q1", doc, nil).wantError(t, http.StatusConflict, "exam_not_editable")
		if e.head() != before {
			t.Fatal("a refused edit appended events")
		}
	})
	t.Run("bad list parameters", func(t *testing.T) {
		for _, q := range []string{"?limit=501", "?limit=0", "?limit=-1", "?limit=ten", "?cursor=not-a-cursor", "?status=finished"} {
			e.get("/exams"+q, doc).wantError(t, http.StatusBadRequest, "validation_failed")
		}
	})
}
