package component_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// page is one page of any list.
type page struct {
	Items      []map[string]any `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

// pages follows next_cursor from path (which has a query) to the end and
// returns the ids in order and the page sizes.
func (e *env) pages(t *testing.T, path string, u *user, idField string) (ids []string, sizes []int) {
	t.Helper()
	next := path
	for range 100 {
		r := e.get(next, u.Access).want(t, http.StatusOK)
		var p page
		r.decode(t, &p)
		if !strings.Contains(string(r.body), `"next_cursor"`) {
			t.Fatalf("list without next_cursor: %s", r)
		}
		sizes = append(sizes, len(p.Items))
		for _, it := range p.Items {
			ids = append(ids, it[idField].(string))
		}
		if p.NextCursor == nil {
			return ids, sizes
		}
		if *p.NextCursor == "" {
			t.Fatalf("empty next_cursor, want null at the end: %s", r)
		}
		next = path + "&cursor=" + url.QueryEscape(*p.NextCursor)
	}
	t.Fatal("pagination does not end")
	return nil, nil
}

func TestPagination(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	for range 5 {
		e.createLevel(e.unique("Extra level"))
	}
	for range 5 {
		e.draftExam(w.doctor, w.levelA, nil)
	}

	cases := []struct {
		name, path, idField string
		who                 *user
		total               int
		sizes               []int
	}{
		{"levels", "/levels?limit=3", "id", e.admin, 7, []int{3, 3, 1}},
		{"exams", "/exams?limit=2", "id", w.doctor, 5, []int{2, 2, 1}},
		{"exams with exactly a page", "/exams?limit=5", "id", w.doctor, 5, []int{5}},
		{"users", "/users?limit=4", "id", e.admin, 6, []int{4, 2}},
		{"audit events", "/audit/events?type=level.created.v1&limit=4", "event_id", e.admin, 7, []int{4, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ids, sizes := e.pages(t, c.path, c.who, c.idField)
			if len(ids) != c.total || !slices.Equal(sizes, c.sizes) {
				t.Fatalf("got %d items in pages %v, want %d in %v", len(ids), sizes, c.total, c.sizes)
			}
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("%s appears on two pages", id)
				}
				seen[id] = true
			}
		})
	}

	t.Run("default limit is 50, max 500", func(t *testing.T) {
		for range 45 {
			e.createLevel(e.unique("Bulk level"))
		}
		var p page
		e.get("/levels", e.admin.Access).want(t, http.StatusOK).decode(t, &p)
		if len(p.Items) != 50 || p.NextCursor == nil {
			t.Fatalf("default page: %d items, next %v", len(p.Items), p.NextCursor)
		}
		e.get("/levels?limit=500", e.admin.Access).want(t, http.StatusOK).decode(t, &p)
		if len(p.Items) != 52 || p.NextCursor != nil {
			t.Fatalf("limit 500: %d items, next %v", len(p.Items), p.NextCursor)
		}
	})

	t.Run("bad limit or cursor", func(t *testing.T) {
		for _, path := range []string{"/levels", "/exams", "/users", "/audit/events", "/exams/" + e.draftExam(w.doctor, w.levelA, nil).ID + "/events"} {
			for _, q := range []string{"limit=501", "limit=0", "limit=x", "cursor=%21%21not-ours"} {
				u := e.admin
				r := e.get(path+"?"+q, u.Access).wantError(t, http.StatusBadRequest, "validation_failed")
				field := strings.SplitN(q, "=", 2)[0]
				if _, ok := r.fields(t)[field]; !ok {
					t.Errorf("%s?%s: details.fields lacks %s: %s", path, q, field, r)
				}
			}
		}
	})
}

func TestETagAndIfMatch(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	doc := w.doctor.Access

	r := e.post("/exams", doc, examBody("ETag exam", w.levelA, nil)).want(t, http.StatusCreated)
	var ex examView
	r.decode(t, &ex)
	etag := r.header.Get("ETag")
	if etag != strconv.Quote(strconv.FormatInt(ex.Version, 10)) {
		t.Fatalf("ETag %q for version %d", etag, ex.Version)
	}
	if got := e.get("/exams/"+ex.ID, doc).want(t, http.StatusOK).header.Get("ETag"); got != etag {
		t.Fatalf("GET ETag %q, want %q", got, etag)
	}

	head := e.head()
	for _, stale := range []string{`"999"`, `"0"`, `"abc"`} {
		e.put("/exams/"+ex.ID, doc, examBody("Renamed", w.levelA, nil), "If-Match", stale).wantError(t, http.StatusPreconditionFailed, "precondition_failed")
	}
	if e.head() != head {
		t.Fatal("a failed precondition appended events")
	}
	r = e.put("/exams/"+ex.ID, doc, examBody("Renamed", w.levelA, nil), "If-Match", etag).want(t, http.StatusOK)
	var renamed examView
	r.decode(t, &renamed)
	newTag := r.header.Get("ETag")
	if renamed.Title != "Renamed" || renamed.Version != ex.Version+1 || newTag != strconv.Quote(strconv.FormatInt(renamed.Version, 10)) {
		t.Fatalf("after PUT: %q v%d ETag %q", renamed.Title, renamed.Version, newTag)
	}
	// The old version is stale now, for every exam command.
	e.put("/exams/"+ex.ID, doc, examBody("Again", w.levelA, nil), "If-Match", etag).wantError(t, http.StatusPreconditionFailed, "precondition_failed")
	e.post("/exams/"+ex.ID+"/publish", doc, nil, "If-Match", etag).wantError(t, http.StatusPreconditionFailed, "precondition_failed")
	var pub examView
	r = e.post("/exams/"+ex.ID+"/publish", doc, nil, "If-Match", newTag).want(t, http.StatusOK)
	r.decode(t, &pub)
	e.put("/exams/"+ex.ID+"/questions/q1/answer-key", doc, map[string]any{"correct": []string{"c"}}, "If-Match", newTag).
		wantError(t, http.StatusPreconditionFailed, "precondition_failed")
	e.put("/exams/"+ex.ID+"/questions/q1/answer-key", doc, map[string]any{"correct": []string{"c"}}, "If-Match", r.header.Get("ETag")).
		want(t, http.StatusOK)
	// Another doctor learns nothing from a precondition: still 403.
	e.post("/exams/"+ex.ID+"/close", w.doctor2.Access, nil, "If-Match", `"1"`).wantError(t, http.StatusForbidden, "forbidden")
	// Students get the ETag of the version they see.
	if got := e.get("/exams/"+ex.ID, w.studentA.Access).want(t, http.StatusOK).header.Get("ETag"); got != strconv.Quote(strconv.FormatInt(pub.Version+1, 10)) {
		t.Errorf("student ETag %q, want version %d", got, pub.Version+1)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.get("/me", e.admin.Access).want(t, http.StatusOK)

	if m := e.get("!/healthz", "").want(t, http.StatusOK).obj(t); m["status"] != "ok" {
		t.Errorf("healthz: %v", m)
	}
	e.get("!/readyz", "").want(t, http.StatusOK)

	r := e.get("!/metrics", "").want(t, http.StatusOK)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("metrics Content-Type %q", ct)
	}
	body := string(r.body)
	for _, want := range []string{"# TYPE http_requests_total counter", `http_requests_total{method="GET",route="/api/v1/me",status="200"}`, "http_request_duration_seconds"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, e.admin.ID) {
		t.Error("metrics label raw paths")
	}

	r = e.get("/openapi.json", "").want(t, http.StatusOK)
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil || doc["openapi"] == nil {
		t.Errorf("openapi.json: %v", err)
	}

	for _, path := range []string{"!/nope", "/nope", "/exams/x/y/z"} {
		e.get(path, e.admin.Access).wantError(t, http.StatusNotFound, "not_found")
	}
	if r := e.call("DELETE", "/levels", e.admin.Access, nil); r.status < 400 || r.status >= 500 {
		t.Errorf("DELETE /levels: %s", r)
	} else {
		r.errorBody(t)
	}
	// Unknown exams: 404 for everyone who may look.
	for _, u := range []*user{e.admin} {
		e.get("/exams/00000000-0000-0000-0000-000000000000", u.Access).wantError(t, http.StatusNotFound, "not_found")
		e.post("/exams/00000000-0000-0000-0000-000000000000/publish", u.Access, nil).wantError(t, http.StatusNotFound, "not_found")
	}
	// Request ids are echoed.
	if got := e.call("GET", "!/healthz", "", nil, "X-Request-ID", "abc-123").header.Get("X-Request-ID"); got != "abc-123" {
		t.Errorf("X-Request-ID %q", got)
	}
}

// TestExamShape checks the contract's Exam document: every field, the
// defaults (choice keys a, b, c…, true/false choices, 1 point), and the
// student's view without keys.
func TestExamShape(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	r := e.post("/exams", w.doctor.Access, examBody("Shape", w.levelA, map[string]any{"time_limit_seconds": 900})).want(t, http.StatusCreated)
	fields := []string{"id", "title", "description", "level_id", "owner_id", "status", "version", "opens_at", "closes_at",
		"time_limit_seconds", "max_score", "question_count", "created_at", "questions"}
	m := r.obj(t)
	for _, f := range fields {
		if _, ok := m[f]; !ok {
			t.Errorf("exam lacks %q", f)
		}
	}
	var ex examView
	r.decode(t, &ex)
	if ex.OwnerID != w.doctor.ID || ex.LevelID != w.levelA || ex.MaxScore != 8 || ex.QuestionCount != 4 || ex.Version < 1 ||
		ex.TimeLimitSeconds == nil || *ex.TimeLimitSeconds != 900 || ex.OpensAt != nil || ex.ClosesAt != nil {
		t.Errorf("exam: %+v", ex)
	}
	keys := func(q question) []string {
		var k []string
		for _, c := range q.Choices {
			k = append(k, c.Key)
		}
		return k
	}
	q := map[string]question{}
	for _, x := range ex.Questions {
		q[x.ID] = x
	}
	if got := keys(q["q1"]); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("default choice keys %v", got)
	}
	if got := keys(q["q3"]); !slices.Equal(got, []string{"true", "false"}) || q["q3"].Points != 1 || q["q3"].Kind != "true_false" {
		t.Errorf("true_false question: %+v", q["q3"])
	}
	if q["q1"].NegativePoints != 0.5 || q["q1"].ImageID != nil || !slices.Equal(q["q2"].Correct, []string{"a", "c"}) {
		t.Errorf("questions: %+v", ex.Questions)
	}
	qm := m["questions"].([]any)[0].(map[string]any)
	for _, f := range []string{"id", "text", "kind", "choices", "correct", "points", "negative_points", "image_id"} {
		if _, ok := qm[f]; !ok {
			t.Errorf("question lacks %q", f)
		}
	}

	e.post("/exams/"+ex.ID+"/publish", w.doctor.Access, nil).want(t, http.StatusOK)
	sm := e.get("/exams/"+ex.ID, w.studentA.Access).want(t, http.StatusOK).obj(t)
	for _, f := range fields {
		if _, ok := sm[f]; !ok {
			t.Errorf("student's exam lacks %q", f)
		}
	}
	for _, x := range sm["questions"].([]any) {
		if _, ok := x.(map[string]any)["correct"]; ok {
			t.Errorf("student's question has a key: %v", x)
		}
	}
}
