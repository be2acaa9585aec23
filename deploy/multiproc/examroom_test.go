package multiproc

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestExamRoomBehindNginx: a student takes an exam in the exam room
// (/exam/) through nginx in front of three API replicas; one replica is
// killed while the student answers. Every answer the page showed as saved
// is on the server exactly once, in the state chosen last.
func TestExamRoomBehindNginx(t *testing.T) {
	d := startDeployment(t)
	c := newClient("room", d.baseURL(), d.runID)
	s, err := setupSite(c, 1)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	st := s.students[0]
	tr, err := login(c, st.email, st.password)
	if err != nil {
		t.Fatal(err)
	}
	st.token = tr.AccessToken
	examID, err := s.createExam("Exam room behind nginx")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.waitStudentSees(examID, st, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is missing (%v): run scripts/ensure-chromium.sh", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(path), chromedp.Flag("headless", true),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	// Start the browser under bctx: a browser started by a step's shorter
	// context would end with it.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			body, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: %v (page: %.600s)", step, err, body)
		}
	}
	saved := chromedp.Poll[bool](`(() => { const s = document.getElementById("save-status");
		return !!s && s.dataset.state === "saved"; })()`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))
	waitSaved := func(step string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 40*time.Second)
		defer cancel()
		if _, err := chromedp.Run(sctx, saved); err != nil {
			status, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#save-status")))
			t.Fatalf("%s: %v (save status %q)", step, err, status)
		}
	}
	pick := func(qid, key string) chromedp.Action[chromedp.Void] {
		sel := fmt.Sprintf(`input[name="q-%s"][value="%s"]`, qid, key)
		return chromedp.Steps(
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q).scrollIntoView({block: "center"}), true)`, sel))(ctx, tg)
				return err
			}),
			chromedp.Click(chromedp.CSS(sel)))
	}

	run("sign in and start",
		chromedp.Navigate(d.baseURL()+"/exam/"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), st.email),
		chromedp.SendKeys(chromedp.CSS("#password"), st.password),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#open-exams")),
		chromedp.Navigate(d.baseURL()+"/exam/#/exam/"+examID),
		chromedp.WaitVisible(chromedp.CSS("#begin")),
		chromedp.Click(chromedp.CSS("#begin")),
		chromedp.WaitVisible(chromedp.CSS("#answers")),
	)
	run("q1", pick("q1", "b"))
	waitSaved("q1 saved")

	// A replica dies while the student answers on.
	run("q2 (a)", pick("q2", "a"))
	d.apis[0].kill()
	run("q2 (c), q3, q4, q1 again", pick("q2", "c"), pick("q3", "true"), pick("q4", "d"), pick("q1", "a"))
	waitSaved("everything saved with a replica down")
	d.apis[1].kill()
	run("q5 with one replica left", pick("q5", "b"))
	waitSaved("q5 saved")

	var att struct {
		Answers map[string][]string `json:"answers"`
	}
	r := c.send(http.MethodGet, "/exams/"+examID+"/attempt", st.token, nil)
	if err := r.decode(&att); err != nil {
		t.Fatalf("attempt: %v", err)
	}
	want := map[string][]string{"q1": {"a"}, "q2": {"a", "c"}, "q3": {"true"}, "q4": {"d"}, "q5": {"b"}}
	for q, w := range want {
		if !slices.Equal(att.Answers[q], w) {
			t.Fatalf("server has %s = %v, want %v (all %v)", q, att.Answers[q], w, att.Answers)
		}
	}
	if len(att.Answers) != len(want) {
		t.Fatalf("server has answers %v, want exactly %v", att.Answers, want)
	}
	// Each change the page sent is recorded once: q1 twice (b, then a), q2
	// once or twice (a may have gone before c replaced it in the queue),
	// the others once — never a replay recorded again.
	counts, err := s.answerEvents(examID)
	if err != nil {
		t.Fatal(err)
	}
	if n := counts[st.id]; n < 6 || n > 7 {
		t.Fatalf("%d answer events recorded, want 6 or 7 (one per change sent)", n)
	}
}
