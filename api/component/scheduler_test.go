package component_test

import (
	"net/http"
	"testing"
	"time"
)

// TestSchedulerOpensClosesAndGrades moves the platform's clock: an exam
// published with opens_at in the future is scheduled, opens by itself, and
// closes by itself at closes_at and gets graded; an open exam with only a
// closes_at closes by itself too.
func TestSchedulerOpensClosesAndGrades(t *testing.T) {
	t.Parallel()
	e := start(t, withAccessTTL(24*time.Hour))
	w := e.world()
	doc, a, b := w.doctor, w.studentA, w.studentA2

	now := e.clock.Now().Truncate(time.Second)
	opens, closes := now.Add(time.Hour), now.Add(2*time.Hour)
	ex := e.publishedExam(doc, w.levelA, map[string]any{"opens_at": opens.Format(time.RFC3339), "closes_at": closes.Format(time.RFC3339)})
	if ex.Status != "scheduled" || ex.OpensAt == nil || *ex.OpensAt != opens.Format(time.RFC3339) {
		t.Fatalf("published exam: status %q opens_at %v", ex.Status, ex.OpensAt)
	}
	// An exam open now that closes in 30 minutes.
	short := e.publishedExam(doc, w.levelA, map[string]any{"closes_at": now.Add(30 * time.Minute).Format(time.RFC3339)})
	if short.Status != "open" {
		t.Fatalf("exam without opens_at: status %q, want open", short.Status)
	}
	e.answer(short.ID, "q3", a, "true").want(t, http.StatusOK)

	// Students see the scheduled exam but cannot start it yet.
	if got := e.getExam(ex.ID, a); got.Status != "scheduled" {
		t.Fatalf("student sees status %q", got.Status)
	}
	e.post("/exams/"+ex.ID+"/attempt", a.Access, nil).wantError(t, http.StatusConflict, "exam_not_open")
	time.Sleep(100 * time.Millisecond) // several scheduler ticks: nothing is due
	if got := e.getExam(ex.ID, doc); got.Status != "scheduled" {
		t.Fatalf("opened early: status %q", got.Status)
	}

	e.clock.Advance(time.Hour)
	waitFor(t, "the scheduled exam to open", func() bool { return e.getExam(ex.ID, doc).Status == "open" })
	opened := e.events("/exams/"+ex.ID+"/events?type=exam.opened.v1", doc)
	if len(opened) != 1 || opened[0].Actor.Role != "system" {
		t.Fatalf("exam.opened.v1 events: %+v", opened)
	}
	// Meanwhile the short exam closed by itself and was graded.
	e.waitGraded(short.ID, doc, 1)
	if r := e.results(short.ID, doc)[a.ID]; r.Score != 1 {
		t.Errorf("short exam: A scored %v, want 1", r.Score)
	}
	closedShort := e.events("/exams/"+short.ID+"/events?type=exam.closed.v1", doc)
	if len(closedShort) != 1 || closedShort[0].Data["reason"] != "schedule" {
		t.Fatalf("short exam close: %+v", closedShort)
	}

	e.answer(ex.ID, "q1", a, "b").want(t, http.StatusOK)
	e.answer(ex.ID, "q1", b, "a").want(t, http.StatusOK)
	e.answer(ex.ID, "q3", b, "true").want(t, http.StatusOK)

	e.clock.Advance(time.Hour)
	// Past closes_at no answer is taken, whether or not the scheduler has
	// recorded the close yet.
	e.answer(ex.ID, "q4", a, "a").wantError(t, http.StatusConflict, "exam_not_open")
	e.waitGraded(ex.ID, doc, 2)
	res := e.results(ex.ID, doc)
	if res[a.ID].Score != 2 || res[b.ID].Score != 0.5 {
		t.Errorf("scores: A %v (want 2), B %v (want −0.5 + 1 = 0.5)", res[a.ID].Score, res[b.ID].Score)
	}
	closed := e.events("/exams/"+ex.ID+"/events?type=exam.closed.v1", doc)
	if len(closed) != 1 || closed[0].Data["reason"] != "schedule" || closed[0].Data["closed_at"] != closes.Format(time.RFC3339) {
		t.Fatalf("scheduled close: %+v", closed)
	}
	var ra studentResult
	e.get("/exams/"+ex.ID+"/result", a.Access).want(t, http.StatusOK).decode(t, &ra)
	if ra.Score != 2 {
		t.Errorf("A's own result: %+v", ra)
	}
	// Tokens follow the platform's clock: two hours on, a login still
	// reports the whole access lifetime.
	var tr tokenResponse
	e.post("/auth/login", "", map[string]string{"email": a.Email, "password": a.Password}).want(t, http.StatusOK).decode(t, &tr)
	if want := int((24 * time.Hour).Seconds()); tr.ExpiresIn < want-1 || tr.ExpiresIn > want {
		t.Errorf("expires_in = %d, want %d", tr.ExpiresIn, want)
	}
}
