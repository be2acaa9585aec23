package room_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/examhall/exam/api/room"
	"github.com/examhall/exam/domain"
)

// TestBrowserCountdownFollowsAccommodation is the exam day of the issue:
// a student takes a 10-minute exam in the exam room while the doctor
// watches the monitor in the web admin (a save shows there live), gives
// the student ten minutes, and the student's countdown moves within
// seconds; after the close the student reads their grade.
func TestBrowserCountdownFollowsAccommodation(t *testing.T) {
	e := start(t)
	lvl := e.level("Year 3")
	doc := e.user(domain.RoleDoctor, "Dr Cy", "")
	stu := e.user(domain.RoleStudent, "Student Three", lvl)
	x := e.exam(doc, lvl, 600)
	q1 := x.Questions[0].ID
	b := newBrowser(t, e)

	b.run("the student signs in and starts",
		b.open(room.Path),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), stu.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#open-exams a")),
		chromedp.Click(chromedp.CSS("#open-exams a")),
		chromedp.WaitVisible(chromedp.CSS("#begin")),
		chromedp.Click(chromedp.CSS("#begin")),
		chromedp.WaitVisible(chromedp.CSS("#answers")),
	)
	b.waitJS("a 10-minute countdown", `/^Time left (9:\d\d|10:00)$/.test(document.getElementById("countdown").textContent)`)

	d := b.tab("-doctor")
	d.run("the doctor signs in to the web admin",
		d.open("/admin/login"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), doc.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.logout`)),
		d.open("/admin/exams/"+x.ID+"/monitor"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-student-id="`+stu.ID+`"]`)),
	)
	row := `tr[data-student-id="` + stu.ID + `"]`
	d.waitJS("the monitor is live", `document.getElementById("live").textContent === "Live."`)
	if got := d.text(row + " .m-status"); got != "in_progress" {
		t.Fatalf("monitor status %q", got)
	}

	b.run("the student answers", pick(choice(q1, "a")))
	b.waitJS("saved", savedState("saved", 0))
	d.waitJS("the save shows on the monitor without a reload", `document.querySelector('`+row+` .m-answered').textContent === "1"`)
	d.screenshot("monitor")

	d.run("give ten minutes",
		chromedp.SetValue(chromedp.CSS("#extra-"+stu.ID), "10"),
		chromedp.Click(chromedp.CSS(row+` button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if acc, ok := mustExam(t, e, x.ID).AccommodationFor(stu.ID); !ok || acc.ExtraSeconds != 600 {
		t.Fatalf("accommodation after the form: %+v %v", acc, ok)
	}
	d.waitJS("the row shows the new deadline", `document.getElementById("extra-`+stu.ID+`").value === "10"`)
	d.screenshot("monitor-extra-time")

	b.waitJS("the student's countdown moved by ten minutes", `/^Time left 1[89]:\d\d$/.test(document.getElementById("countdown").textContent)`)
	b.screenshot("countdown-moved")

	// Closed and graded: the student reads the result.
	if _, err := e.p.Commands.CloseExam.Handle(context.Background(), e.meta(doc.Actor()), x.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "graded", func() bool { return mustExam(t, e, x.ID).Status == domain.StatusGraded })
	b.run("my exams → graded → result",
		b.open(room.Path+"#/exams"),
		chromedp.WaitVisible(chromedp.CSS("#graded-exams a")),
		chromedp.Click(chromedp.CSS("#graded-exams a")),
		chromedp.WaitVisible(chromedp.CSS("#score")),
	)
	if got := b.text("#score"); !strings.Contains(got, "Your score: 1 of 3") {
		t.Fatalf("result page: %q", got)
	}
	b.screenshot("result")
}

func mustExam(t *testing.T, e *env, id string) *domain.Exam {
	t.Helper()
	x, err := e.p.Commands.Repo.LoadExam(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return x
}
