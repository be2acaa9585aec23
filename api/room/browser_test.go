package room_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/examhall/exam/api/room"
	"github.com/examhall/exam/domain"
)

// savedState is the page's save indicator state ("saved", "saving",
// "offline") and the number of answers it says are waiting.
func savedState(state string, waiting int) string {
	return fmt.Sprintf(`(() => { const s = document.getElementById("save-status");
		return !!s && s.dataset.state === %q && s.dataset.waiting === "%d"; })()`, state, waiting)
}

func checked(sel string) string {
	return fmt.Sprintf(`(() => { const i = document.querySelector(%q); return !!i && i.checked; })()`, sel)
}

// answersOf is the attempt's latest answer per question, and the number of
// answers the store recorded for each question.
func answersOf(t *domain.Attempt) (map[string][]string, map[string]int) {
	latest, counts := map[string][]string{}, map[string]int{}
	for q, a := range t.CurrentAnswers() {
		latest[q] = a.Choices
	}
	for _, h := range t.History {
		counts[h.QuestionID]++
	}
	return latest, counts
}

// TestBrowserExamRoomOffline: a student signs in, starts and answers; the
// network is cut; they change an answer and answer two more questions; the
// tab is reloaded while offline (the page comes back from the service
// worker, the queue from localStorage); the network returns and every
// answer reaches the server exactly once, in the last state chosen. Then a
// submit made offline waits for the answer queued before it.
func TestBrowserExamRoomOffline(t *testing.T) {
	e := start(t)
	lvl := e.level("Year 1")
	doc := e.user(domain.RoleDoctor, "Dr Ada", "")
	stu := e.user(domain.RoleStudent, "Student <One>", lvl)
	x := e.exam(doc, lvl, 1800)
	q1, q2, q3 := x.Questions[0].ID, x.Questions[1].ID, x.Questions[2].ID
	b := newBrowser(t, e)

	b.run("sign in",
		b.open(room.Path),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), stu.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#open-exams a")),
	)
	if got := b.text("#who"); got != "Student <One>" {
		t.Fatalf("header shows %q, want the student's name as text", got)
	}
	if got := b.text("#open-exams"); !strings.Contains(got, "Cells <&> tissues") {
		t.Fatalf("open exams: %q", got)
	}
	b.screenshot("my-exams")

	b.run("start the exam",
		chromedp.Click(chromedp.CSS("#open-exams a")),
		chromedp.WaitVisible(chromedp.CSS("#begin")),
	)
	b.screenshot("before-start")
	b.run("begin", chromedp.Click(chromedp.CSS("#begin")), chromedp.WaitVisible(chromedp.CSS("#answers")))
	// The answer key is nowhere in the page before grading.
	html, err := value(b, chromedp.Evaluate[string](`document.documentElement.outerHTML + JSON.stringify(localStorage)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, `"correct"`) {
		t.Fatal("the page or its stored copy holds answer keys before grading")
	}
	if asHTML, _ := value(b, chromedp.Evaluate[bool](`document.querySelector("#answers b") !== null`)); asHTML {
		t.Fatal("a choice's text was inserted as HTML")
	}
	b.waitJS("countdown from the server's deadline", `document.getElementById("countdown").textContent.startsWith("Time left 29:") ||
		document.getElementById("countdown").textContent.startsWith("Time left 30:")`)

	b.run("answer q1 online", pick(choice(q1, "a")))
	b.waitJS("q1 saved", savedState("saved", 0))
	if latest, _ := answersOf(e.attempt(x.ID, stu.ID)); !slices.Equal(latest[q1], []string{"a"}) {
		t.Fatalf("server has q1 = %v, want [a]", latest[q1])
	}
	b.screenshot("saved")

	// --- the network goes away ---
	b.network(false)
	b.run("answer offline",
		pick(choice(q2, "a")),
		pick(choice(q2, "c")),
		pick(choice(q1, "b")),
		pick(choice(q3, "true")),
	)
	b.waitJS("offline, three waiting", savedState("offline", 3))
	if got := b.text("#save-status"); got != "Offline — 3 answers waiting" {
		t.Fatalf("save status %q", got)
	}
	b.screenshot("offline-waiting")

	if latest, _ := answersOf(e.attempt(x.ID, stu.ID)); len(latest) != 1 {
		t.Fatalf("the server changed while the browser was offline: %v", latest)
	}
	if ctl, _ := value(b, chromedp.Evaluate[bool](`!!navigator.serviceWorker.controller`)); !ctl {
		t.Fatal("the service worker does not control the page: it would not reload offline")
	}
	b.run("reload while offline", chromedp.Reload())
	b.waitJS("the page is back from the service worker with its queue", savedState("offline", 3))
	for _, sel := range []string{choice(q1, "b"), choice(q2, "a"), choice(q2, "c"), choice(q3, "true")} {
		b.waitJS("restored "+sel, checked(sel))
	}
	b.screenshot("reloaded-offline")
	if latest, _ := answersOf(e.attempt(x.ID, stu.ID)); len(latest) != 1 || !slices.Equal(latest[q1], []string{"a"}) {
		t.Fatalf("the server changed while the browser was offline: %v", latest)
	}

	// --- the network returns ---
	b.network(true)
	b.waitJS("the queue drains", savedState("saved", 0))
	latest, counts := answersOf(e.attempt(x.ID, stu.ID))
	want := map[string][]string{q1: {"b"}, q2: {"a", "c"}, q3: {"true"}}
	for q, w := range want {
		if !slices.Equal(latest[q], w) {
			t.Fatalf("server has %s = %v, want %v (all: %v)", q, latest[q], w, latest)
		}
	}
	// q1 twice (online, then changed offline); q2 once (two clicks while
	// offline are one change); q3 once. A replay never records twice.
	if counts[q1] != 2 || counts[q2] != 1 || counts[q3] != 1 {
		t.Fatalf("answers recorded per question: %v, want q1 2, q2 1, q3 1", counts)
	}
	b.screenshot("back-online")

	// --- submit with a queue: it waits for the answer before it ---
	b.network(false)
	b.run("change q3 and submit offline",
		pick(choice(q3, "false")),
		pick("#submit"),
		chromedp.WaitVisible(chromedp.CSS("#submit-yes")),
		pick("#submit-yes"),
		chromedp.WaitVisible(chromedp.CSS("#submit-wait")),
	)
	if got := b.text("#submit-wait"); !strings.Contains(got, "waiting for 1 answer") {
		t.Fatalf("submit notice %q", got)
	}
	if dis, _ := value(b, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q).disabled`, choice(q1, "a")))); !dis {
		t.Fatal("answers stay editable while a submission waits")
	}
	b.screenshot("submit-waiting")
	if a := e.attempt(x.ID, stu.ID); a.Status != domain.AttemptInProgress {
		t.Fatalf("submitted while offline? status %s", a.Status)
	}
	b.network(true)
	b.waitJS("submitted", `(() => { const f = document.getElementById("final"); return !!f && f.textContent.startsWith("Submitted."); })()`)
	a := e.attempt(x.ID, stu.ID)
	if a.Status != domain.AttemptSubmittedS {
		t.Fatalf("attempt status %s, want submitted", a.Status)
	}
	latest, counts = answersOf(a)
	if !slices.Equal(latest[q3], []string{"false"}) || counts[q3] != 2 {
		t.Fatalf("q3 = %v recorded %d times; want [false], twice (the queued change went before the submit)", latest[q3], counts[q3])
	}
	b.screenshot("submitted")
}

// TestBrowserExamRoomPhoneKeyboard: on a phone-sized screen, a student
// signs in, answers and navigates one question at a time using only the
// keyboard; nothing is wider than the screen.
func TestBrowserExamRoomPhoneKeyboard(t *testing.T) {
	e := start(t)
	lvl := e.level("Year 2")
	doc := e.user(domain.RoleDoctor, "Dr Bo", "")
	stu := e.user(domain.RoleStudent, "Student Two", lvl)
	x := e.exam(doc, lvl, 0)
	q1, q2 := x.Questions[0].ID, x.Questions[1].ID
	b := newBrowser(t, e)

	noOverflow := `document.documentElement.scrollWidth <= window.innerWidth`
	// tabTo presses Tab until the element has the focus.
	tabTo := func(sel string) {
		t.Helper()
		for i := 0; i < 40; i++ {
			if ok, _ := value(b, chromedp.Evaluate[bool](fmt.Sprintf(`document.activeElement === document.querySelector(%q)`, sel))); ok {
				return
			}
			b.run("tab", chromedp.KeyEvent(kb.Tab))
		}
		t.Fatalf("Tab never reached %s", sel)
	}
	b.run("phone", chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile, chromedp.EmulatePortrait), b.open(room.Path),
		chromedp.WaitVisible(chromedp.CSS("#email")))
	b.screenshot("phone-sign-in")
	tabTo("#email")
	b.run("type the email", chromedp.KeyEvent(stu.Email))
	tabTo("#password")
	b.run("type the password and Enter", chromedp.KeyEvent(password), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#open-exams a")))
	b.waitJS("no horizontal scroll (exams)", noOverflow)
	b.screenshot("phone-my-exams")
	tabTo("#open-exams a")
	b.run("open it", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#begin")))
	tabTo("#begin")
	b.run("start it", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#answers")))
	b.waitJS("no time limit shown", `document.getElementById("countdown").textContent === "No time limit"`)

	tabTo("#layout-toggle")
	b.run("one at a time", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#next")))
	tabTo(choice(q1, "a"))
	// Arrow keys move a radio group's choice, as in any form.
	b.run("choose b with the arrow key", chromedp.KeyEvent(kb.ArrowDown))
	b.waitJS("q1 b chosen and saved", checked(choice(q1, "b"))+" && "+savedState("saved", 0))
	b.waitJS("no horizontal scroll (question)", noOverflow)
	b.screenshot("phone-question")
	tabTo("#next")
	b.run("next question", chromedp.KeyEvent(kb.Enter))
	b.waitJS("q2 visible, q1 hidden", fmt.Sprintf(`!document.getElementById("q-%s").hidden && document.getElementById("q-%s").hidden`, q2, q1))
	tabTo(choice(q2, "c"))
	b.run("tick c with space", chromedp.KeyEvent(" "))
	b.waitJS("q2 saved", checked(choice(q2, "c"))+" && "+savedState("saved", 0))

	latest, _ := answersOf(e.attempt(x.ID, stu.ID))
	if !slices.Equal(latest[q1], []string{"b"}) || !slices.Equal(latest[q2], []string{"c"}) {
		t.Fatalf("server has %v", latest)
	}
	b.screenshot("phone-answered")

	// Resume on another device: a fresh browser (no queue, no stored copy)
	// shows what the server has.
	other := newBrowser(t, e)
	other.run("another device",
		other.open(room.Path),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), stu.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#open-exams a")),
		chromedp.Click(chromedp.CSS("#open-exams a")),
		chromedp.WaitVisible(chromedp.CSS("#answers")),
	)
	other.waitJS("the answers resume from the server", checked(choice(q1, "b"))+" && "+checked(choice(q2, "c"))+" && "+savedState("saved", 0))
}

// TestExamRoomHeaders: the page and its files are served with a strict CSP
// and no inline script or style in the HTML.
func TestExamRoomHeaders(t *testing.T) {
	e := start(t)
	for _, path := range []string{"/exam/", "/exam/room.js", "/exam/room.css", "/exam/sw.js"} {
		res, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		if got := res.Header.Get("Content-Security-Policy"); got != room.ContentSecurityPolicy {
			t.Fatalf("GET %s: CSP %q", path, got)
		}
		if !strings.Contains(room.ContentSecurityPolicy, "script-src 'self';") || strings.Contains(room.ContentSecurityPolicy, "unsafe") {
			t.Fatalf("CSP is not strict: %s", room.ContentSecurityPolicy)
		}
		if path == "/exam/" {
			s := string(body)
			if strings.Contains(s, "<script>") || strings.Contains(s, "<style") || strings.Contains(s, " style=") || strings.Contains(s, " onclick=") {
				t.Fatal("inline script or style in the page")
			}
		}
	}
	res, err := http.Get(e.srv.URL + "/exam/index.html")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /exam/index.html: %d; files are served by name only", res.StatusCode)
	}
}

// TestBrowserExamRoomDeadline: at the deadline (the server's) the page
// stops taking changes and says what the server has.
func TestBrowserExamRoomDeadline(t *testing.T) {
	e := start(t)
	lvl := e.level("Year 4")
	doc := e.user(domain.RoleDoctor, "Dr Di", "")
	stu := e.user(domain.RoleStudent, "Student Four", lvl)
	x := e.exam(doc, lvl, 4) // four seconds
	q1 := x.Questions[0].ID
	b := newBrowser(t, e)
	b.run("sign in and start",
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
		pick(choice(q1, "a")),
	)
	b.waitJS("saved", savedState("saved", 0))
	b.waitJS("time is up", `(() => { const f = document.getElementById("final"); return !!f && f.textContent.startsWith("Time is up. The server has 1 of 3 answers"); })()`)
	if dis, _ := value(b, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q).disabled`, choice(q1, "b")))); !dis {
		t.Fatal("the page still takes changes after the deadline")
	}
	if got := b.text("#countdown"); got != "Time left 0:00" {
		t.Fatalf("countdown %q", got)
	}
	b.screenshot("deadline")
}
