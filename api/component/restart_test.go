package component_test

import (
	"bytes"
	"net/http"
	"reflect"
	"testing"
)

// TestRestartKeepsEverything closes the platform and opens a new one over
// the same data directory (with the JWT secret the platform generated and
// kept there): users, exams, answers and grades are all back, tokens issued
// before the restart still work, and the restart itself appends nothing.
func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	e := start(t, withoutJWTSecret())
	w := e.world()
	doc, a, b := w.doctor, w.studentA, w.studentA2

	graded := e.publishedExam(doc, w.levelA, nil)
	e.answer(graded.ID, "q1", a, "b").want(t, http.StatusOK)
	e.answer(graded.ID, "q3", a, "true").want(t, http.StatusOK)
	e.answer(graded.ID, "q1", b, "a").want(t, http.StatusOK)
	e.closeAndGrade(graded.ID, doc, 2)
	open := e.publishedExam(doc, w.levelA, nil)
	e.answer(open.ID, "q2", a, "a", "c").want(t, http.StatusOK)
	e.answer(open.ID, "q4", a, "a").want(t, http.StatusOK)
	draft := e.draftExam(doc, w.levelA, nil)

	resultsBefore := e.results(graded.ID, doc)
	attemptBefore := e.attempt(open.ID, a)
	levelsBefore := e.get("/levels", e.admin.Access).want(t, http.StatusOK).body
	usersBefore := e.get("/users?limit=500", e.admin.Access).want(t, http.StatusOK).body
	examsBefore := map[string]examView{}
	for _, id := range []string{graded.ID, open.ID, draft.ID} {
		examsBefore[id] = e.getExam(id, doc)
	}
	head := e.head()

	e.restart()

	if got := e.head(); got != head {
		t.Fatalf("the restart appended events (admin bootstrap not idempotent?): head %d -> %d", head, got)
	}
	// Tokens signed before the restart: the secret was kept.
	e.get("/me", a.Access).want(t, http.StatusOK)
	var refreshed tokenResponse
	e.refresh(a.Refresh).want(t, http.StatusOK).decode(t, &refreshed)
	a.Access, a.Refresh = refreshed.AccessToken, refreshed.RefreshToken
	e.relogin(b)
	e.relogin(e.admin)

	if got := e.get("/levels", e.admin.Access).want(t, http.StatusOK).body; !bytes.Equal(got, levelsBefore) {
		t.Errorf("levels changed:\n%s\n%s", levelsBefore, got)
	}
	if got := e.get("/users?limit=500", e.admin.Access).want(t, http.StatusOK).body; !bytes.Equal(got, usersBefore) {
		t.Errorf("users changed:\n%s\n%s", usersBefore, got)
	}
	var admins struct{ Items []userView }
	e.get("/users?role=admin", e.admin.Access).want(t, http.StatusOK).decode(t, &admins)
	if len(admins.Items) != 1 {
		t.Errorf("%d admins after a restart, want 1", len(admins.Items))
	}
	for id, before := range examsBefore {
		if got := e.getExam(id, doc); !reflect.DeepEqual(got, before) {
			t.Errorf("exam %s changed:\n%+v\n%+v", id, before, got)
		}
	}
	if got := e.results(graded.ID, doc); !reflect.DeepEqual(got, resultsBefore) {
		t.Errorf("results changed:\n%+v\n%+v", resultsBefore, got)
	}
	var ra studentResult
	e.get("/exams/"+graded.ID+"/result", a.Access).want(t, http.StatusOK).decode(t, &ra)
	if ra.Score != 3 {
		t.Errorf("A's result after the restart: %+v", ra)
	}
	if got := e.attempt(open.ID, a); !reflect.DeepEqual(got, attemptBefore) {
		t.Errorf("attempt changed:\n%+v\n%+v", attemptBefore, got)
	}
	// Student lists and the student exam cache are rebuilt too.
	var list struct{ Items []examView }
	e.get("/exams", a.Access).want(t, http.StatusOK).decode(t, &list)
	if len(list.Items) != 2 {
		t.Errorf("student lists %d exams, want 2", len(list.Items))
	}

	// Life goes on: A answers the open exam, it closes and grades.
	e.answer(open.ID, "q1", a, "b").want(t, http.StatusOK)
	e.closeAndGrade(open.ID, doc, 1)
	if r := e.results(open.ID, doc)[a.ID]; r.Score != 7 || r.Answered != 3 {
		t.Errorf("open exam after the restart: %+v, want 7 points for 3 answers", r)
	}
}
