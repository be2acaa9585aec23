package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/examhall/exam/domain"
)

// TestAdminMonitorGivesTime: the monitor page lists the level's students;
// its "give extra time" form needs the CSRF token, refuses bad minutes
// (400, nothing recorded), sets the accommodation and, with 0, removes it.
func TestAdminMonitorGivesTime(t *testing.T) {
	t.Parallel()
	e := start(t)
	lvl := e.level("L1")
	doc := e.user(domain.RoleDoctor, "Dr Dee", "")
	stu := e.user(domain.RoleStudent, "Sam <Student>", lvl)
	ctx := context.Background()
	res, err := e.p.Commands.DraftExam.Handle(ctx, e.meta(doc.Actor()), domain.ExamDraftInput{Title: "Quiz", LevelID: lvl, TimeLimitSeconds: 600,
		Questions: []domain.QuestionInput{{ID: "q1", Text: "One?", Kind: domain.KindTrueFalse, Correct: []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Commands.PublishExam.Handle(ctx, e.meta(doc.Actor()), res.Exam.ID); err != nil {
		t.Fatal(err)
	}
	path := "/admin/exams/" + res.Exam.ID + "/monitor"
	c := e.client()
	c.mustLogin(doc.Email, password)
	p := c.get(path)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Sam &lt;Student&gt;") || !strings.Contains(p.body, "not_started") {
		t.Fatalf("monitor page: %d", p.status)
	}
	tok := c.csrf(path)
	give := "/admin/exams/" + res.Exam.ID + "/accommodations/" + stu.ID
	before := e.head()
	if p := c.post(give, url.Values{"extra_minutes": {"10"}}); p.status != http.StatusForbidden {
		t.Fatalf("without the CSRF token: %d", p.status)
	}
	for _, bad := range []string{"-1", "ten", "1.5", ""} {
		if p := c.post(give, url.Values{"csrf_token": {tok}, "extra_minutes": {bad}}); p.status != http.StatusBadRequest {
			t.Fatalf("extra_minutes %q: %d, want 400", bad, p.status)
		}
	}
	if e.head() != before {
		t.Fatal("refused forms recorded events")
	}
	if p := c.post(give, url.Values{"csrf_token": {tok}, "extra_minutes": {"10"}}); p.status != http.StatusSeeOther {
		t.Fatalf("give 10 minutes: %d %s", p.status, p.body)
	}
	x, _ := e.p.Commands.Repo.LoadExam(ctx, res.Exam.ID)
	if acc, ok := x.AccommodationFor(stu.ID); !ok || acc.ExtraSeconds != 600 {
		t.Fatalf("accommodation %+v %v", acc, ok)
	}
	if p := c.get(path); !strings.Contains(p.body, `value="10"`) {
		t.Fatal("the monitor does not show the extra minutes")
	}
	if p := c.post(give, url.Values{"csrf_token": {tok}, "extra_minutes": {"0"}}); p.status != http.StatusSeeOther {
		t.Fatalf("remove: %d", p.status)
	}
	x, _ = e.p.Commands.Repo.LoadExam(ctx, res.Exam.ID)
	if _, ok := x.AccommodationFor(stu.ID); ok {
		t.Fatal("0 minutes did not remove the accommodation")
	}
}
