package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/examhall/exam/domain"
)

// Every route of the web admin, for a doctor: the admin-only pages answer
// 403 and another doctor's exam answers 404 on every exam route, and no
// refused request appends anything. The same routes work for the admin, so
// the refusals are the rule, not a broken route.
func TestAuthorizationMatrixOfTheWebAdmin(t *testing.T) {
	t.Parallel()
	e := start(t)
	lvl := e.level("L1")
	owner := e.user(domain.RoleDoctor, "Owner", "")
	intruder := e.user(domain.RoleDoctor, "Intruder", "")
	student := e.user(domain.RoleStudent, "Student", lvl)
	res, err := e.p.Commands.DraftExam.Handle(context.Background(), e.meta(owner.Actor()), domain.ExamDraftInput{Title: "Owner's exam", LevelID: lvl,
		Questions: []domain.QuestionInput{{ID: "q1", Text: "One?", Kind: domain.KindTrueFalse, Correct: []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	exam := "/admin/exams/" + res.Exam.ID
	q := exam + "/questions/q1"

	adminOnly := []struct{ method, path string }{
		{"GET", "/admin/users"}, {"GET", "/admin/users/new"}, {"POST", "/admin/users"},
		{"GET", "/admin/users/" + student.ID}, {"POST", "/admin/users/" + student.ID},
		{"POST", "/admin/users/" + student.ID + "/password"}, {"POST", "/admin/users/" + student.ID + "/active"},
		{"GET", "/admin/levels"}, {"POST", "/admin/levels"},
	}
	examRoutes := []struct{ method, path string }{
		{"GET", exam}, {"GET", exam + "/edit"}, {"POST", exam}, {"POST", exam + "/publish"}, {"POST", exam + "/close"},
		{"GET", exam + "/questions/new"}, {"POST", exam + "/questions"}, {"GET", q}, {"POST", q}, {"POST", q + "/delete"},
		{"GET", q + "/key"}, {"POST", q + "/key/preview"}, {"POST", q + "/key/confirm"},
		{"GET", exam + "/results"}, {"GET", exam + "/results/export?format=csv"}, {"POST", exam + "/results/import"},
		{"GET", exam + "/audit"}, {"GET", exam + "/stats"},
		{"GET", exam + "/monitor"}, {"POST", exam + "/accommodations/" + student.ID},
	}
	c := e.client()
	c.mustLogin(intruder.Email, password)
	tok := c.csrf("/admin/")
	call := func(c *client, method, path, tok string) page {
		if method == "GET" {
			return c.get(path)
		}
		return c.post(path, url.Values{"csrf_token": {tok}, "title": {"Taken over"}, "full_name": {"Taken over"}, "name": {"Taken over"},
			"password": {"taken-over-1"}, "active": {"0"}, "text": {"Taken over"}, "kind": {"true_false"}, "correct": {"false"}})
	}
	before := e.head()
	for _, r := range adminOnly {
		if p := call(c, r.method, r.path, tok); p.status != http.StatusForbidden {
			t.Errorf("doctor %s %s: %d, want 403", r.method, r.path, p.status)
		}
	}
	for _, r := range examRoutes {
		if p := call(c, r.method, r.path, tok); p.status != http.StatusNotFound {
			t.Errorf("other doctor %s %s: %d, want 404", r.method, r.path, p.status)
		}
	}
	if e.head() != before {
		t.Fatalf("refused requests appended events (head %d → %d)", before, e.head())
	}

	// The admin reaches every read route (so a 403/404 above is the rule;
	// exporting a draft's results is a 409 of its own).
	a := e.client()
	a.mustLogin(adminEmail, adminPassword)
	for _, r := range append(adminOnly, examRoutes...) {
		if r.method != "GET" {
			continue
		}
		if p := a.get(r.path); p.status == http.StatusForbidden || p.status == http.StatusNotFound || p.status >= 500 {
			t.Errorf("admin GET %s: %d", r.path, p.status)
		}
	}
}
