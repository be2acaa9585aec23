package component_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

type monitorRow struct {
	StudentID    string  `json:"student_id"`
	Email        string  `json:"email"`
	FullName     string  `json:"full_name"`
	Status       string  `json:"status"`
	Answered     int     `json:"answered"`
	Deadline     *string `json:"deadline"`
	ExtraSeconds int     `json:"extra_seconds"`
	LastSavedAt  *string `json:"last_saved_at"`
}

type monitorView struct {
	ExamID   string       `json:"exam_id"`
	Status   string       `json:"status"`
	Now      string       `json:"now"`
	Students []monitorRow `json:"students"`
}

func (e *env) monitor(examID string, u *user) map[string]monitorRow {
	e.t.Helper()
	var v monitorView
	e.get("/exams/"+examID+"/monitor", u.Access).want(e.t, http.StatusOK).decode(e.t, &v)
	out := map[string]monitorRow{}
	for _, r := range v.Students {
		out[r.StudentID] = r
	}
	return out
}

// TestMonitor: every active student of the level with their state; only
// the owning doctor and admins; the stream sends a row when a student
// saves.
func TestMonitor(t *testing.T) {
	t.Parallel()
	e := start(t, withAccessTTL(24*time.Hour))
	w := e.world()
	doc, a, a2 := w.doctor, w.studentA, w.studentA2
	idle, gone := e.student(w.levelA), e.student(w.levelA)
	e.deactivate(gone)
	ex := e.publishedExam(doc, w.levelA, map[string]any{"time_limit_seconds": 600})

	e.answer(ex.ID, "q1", a, "b").want(t, http.StatusOK)
	e.answer(ex.ID, "q2", a, "a", "c").want(t, http.StatusOK)
	e.answer(ex.ID, "q1", a2, "a").want(t, http.StatusOK)
	e.post("/exams/"+ex.ID+"/submit", a2.Access, nil).want(t, http.StatusOK)
	e.accommodate(ex.ID, doc, idle, map[string]any{"extra_seconds": 120}).want(t, http.StatusOK)

	rows := e.monitor(ex.ID, doc)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want the 3 active students of the level (not the deactivated one, not level B): %+v", len(rows), rows)
	}
	if r := rows[a.ID]; r.Status != "in_progress" || r.Answered != 2 || r.Deadline == nil || r.LastSavedAt == nil || r.Email != a.Email {
		t.Fatalf("A's row: %+v", r)
	}
	if r := rows[a2.ID]; r.Status != "submitted" || r.Answered != 1 {
		t.Fatalf("A2's row: %+v", r)
	}
	if r := rows[idle.ID]; r.Status != "not_started" || r.Deadline != nil || r.ExtraSeconds != 120 || r.LastSavedAt != nil {
		t.Fatalf("the idle student's row: %+v", r)
	}
	if len(e.monitor(ex.ID, e.admin)) != 3 {
		t.Fatal("the admin's monitor differs")
	}
	e.get("/exams/"+ex.ID+"/monitor", w.doctor2.Access).wantError(t, http.StatusForbidden, "forbidden")
	e.get("/exams/"+ex.ID+"/monitor", a.Access).wantError(t, http.StatusForbidden, "forbidden")
	e.get("/exams/"+ex.ID+"/monitor/events", w.doctor2.Access).wantError(t, http.StatusForbidden, "forbidden")
	e.get("/exams/00000000-0000-4000-8000-000000000000/monitor", doc.Access).wantError(t, http.StatusNotFound, "not_found")

	// The stream: every row first, then a row when the idle student saves.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/api/v1/exams/"+ex.ID+"/monitor/events", nil)
	req.Header.Set("Authorization", "Bearer "+doc.Access)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	next := func() (string, monitorRow) {
		t.Helper()
		var event string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "student":
				var r monitorRow
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &r); err != nil {
					t.Fatalf("bad row %q: %v", line, err)
				}
				return event, r
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return "", monitorRow{}
	}
	seen := map[string]bool{}
	for len(seen) < 3 {
		_, r := next()
		seen[r.StudentID] = true
	}
	e.answer(ex.ID, "q3", idle, "true").want(t, http.StatusOK)
	_, r := next()
	if r.StudentID != idle.ID || r.Status != "in_progress" || r.Answered != 1 || r.Deadline == nil || r.LastSavedAt == nil {
		t.Fatalf("row after the save: %+v", r)
	}
}
