package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/examhall/exam/domain"
	"github.com/xuri/excelize/v2"
)

// chromiumPath is Debian's chromium, which scripts/ensure-chromium.sh installs.
const chromiumPath = "/usr/bin/chromium"

// browser drives one headless Chromium against the test platform.
type browser struct {
	t    *testing.T
	e    *env
	ctx  context.Context
	shot int
	dir  string
}

func newBrowser(t *testing.T, e *env) *browser { return newBrowserIn(t, e, "") }

// newBrowserIn keeps its screenshots in artifacts/screenshots/<sub>, so
// browser tests run one after the other do not delete each other's.
func newBrowserIn(t *testing.T, e *env, sub string) *browser {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		p, lerr := exec.LookPath("chromium")
		if lerr != nil {
			t.Fatalf("chromium is missing (%v): run scripts/ensure-chromium.sh", err)
		}
		path = p
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 120*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancelTimeout() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium (%s): %v — run scripts/ensure-chromium.sh", path, err)
	}
	return &browser{t: t, e: e, ctx: bctx, dir: screenshotDir(t, sub)}
}

// screenshotDir is artifacts/screenshots at the repository root (found from
// the test's working directory by its go.mod).
func screenshotDir(t *testing.T, sub string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	out := filepath.Join(dir, "artifacts", "screenshots", sub)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatalf("screenshots dir: %v", err)
	}
	// Drop the previous run's pictures, so the folder shows this run only.
	old, _ := filepath.Glob(filepath.Join(out, "[0-9][0-9]-*.png"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	return out
}

// run runs the actions of one step, failing the test with the step's name.
func (b *browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("main")))
		b.t.Fatalf("%s: %v (at %s: %.500s)", step, err, loc, body)
	}
}

// submit runs the action (a click that submits a form) and waits until the
// page it leads to has loaded: waiting for an element is not enough when the
// old page has it too.
func (b *browser) submit(step string, click chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, click)
	if err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
	if res == nil || res.Status >= 400 {
		b.t.Fatalf("%s: response %+v", step, res)
	}
}

func (b *browser) open(path string) chromedp.Action[chromedp.Void] {
	return chromedp.Navigate(b.e.srv.URL + path)
}

// screenshot writes the whole page as artifacts/screenshots/NN-name.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	buf, err := value(b, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if !bytes.HasPrefix(buf, []byte("\x89PNG")) {
		b.t.Fatalf("screenshot %s is not a PNG", name)
	}
	b.shot++
	if err := os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shot, name)), buf, 0o644); err != nil {
		b.t.Fatalf("write screenshot: %v", err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := value(b, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func (b *browser) login(email, pw string) {
	b.t.Helper()
	b.run("login "+email,
		b.open("/admin/login"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.logout`)),
	)
}

func (b *browser) logout() {
	b.t.Helper()
	b.run("logout", chromedp.Click(chromedp.CSS(`form.logout button`)), chromedp.WaitVisible(chromedp.CSS("#password")))
}

// get fetches path with the browser's (HttpOnly) session cookies.
func (b *browser) get(path string) (*http.Response, []byte) {
	b.t.Helper()
	cookies, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.e.srv.URL + "/admin/"}})
	if err != nil {
		b.t.Fatalf("read the browser's cookies: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	for _, c := range cookies.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

// value runs one action that returns a value.
func value[T any](b *browser, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// voided drops an action's value.
func voided[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// eval runs a script for its effect (it evaluates to true, so the result
// is a value whatever the statement returns).
func eval(js string) chromedp.Action[chromedp.Void] {
	return voided(chromedp.Evaluate[bool]("(" + js + ", true)"))
}

func writePNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 120, 60))
	for y := 0; y < 60; y++ {
		for x := 0; x < 120; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x * 2), G: 80, B: uint8(y * 4), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserExamDay runs an exam day's administration in headless
// Chromium: an admin sets up a level, a doctor and students; the doctor
// builds an exam with an image and publishes it; students answer through
// the JSON API; the doctor closes it, reads and exports the results,
// imports a corrected file, corrects a key after the regrade preview, and
// reads the audit trail and the statistics. A form without its CSRF token
// is refused.
func TestBrowserExamDay(t *testing.T) {
	e := start(t)
	b := newBrowser(t, e)
	tmp := t.TempDir()
	ctx := context.Background()

	// --- the admin: a level, a doctor, two students ---
	b.run("login page", b.open("/admin/login"), chromedp.WaitVisible(chromedp.CSS("#email")))
	b.screenshot("login")
	b.login(adminEmail, adminPassword)
	b.screenshot("dashboard")

	b.run("create a level",
		b.open("/admin/levels"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Year 1"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/levels"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if got := b.text("main ul.plain"); !strings.Contains(got, "Year 1") {
		t.Fatalf("levels page lists %q", got)
	}
	b.screenshot("levels")
	levels, err := e.p.Reads.Levels(ctx)
	if err != nil || len(levels) != 1 {
		t.Fatalf("levels: %v %v", levels, err)
	}
	levelID := levels[0].ID

	createUser := func(email, name, role string) {
		t.Helper()
		actions := []chromedp.Action[chromedp.Void]{
			b.open("/admin/users/new"),
			chromedp.WaitVisible(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), email),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.SetValue(chromedp.CSS("#role"), role),
			chromedp.SendKeys(chromedp.CSS("#full_name"), name),
		}
		if role == "student" {
			actions = append(actions, chromedp.SetValue(chromedp.CSS("#level_id"), levelID))
		} else {
			actions = append(actions, chromedp.SendKeys(chromedp.CSS("#subject"), "Biology"))
		}
		actions = append(actions,
			chromedp.Click(chromedp.CSS(`form[action="/admin/users"] button`)),
			chromedp.WaitVisible(chromedp.CSS(".flash")))
		b.run("create "+role+" "+email, actions...)
	}
	createUser("doctor@school.test", "Dr Ada", "doctor")
	b.screenshot("user")
	createUser("s1@school.test", "Student One", "student")
	createUser("s2@school.test", "Student Two", "student")
	eventually(t, "the students in the directory", func() bool {
		b.run("users list", b.open("/admin/users?role=student"), chromedp.WaitVisible(chromedp.CSS("h1")))
		n, err := value(b, chromedp.Evaluate[int](`document.querySelectorAll("main tbody tr").length`))
		return err == nil && n == 2
	})
	b.screenshot("users")
	b.logout()

	// --- the doctor builds and publishes an exam ---
	b.login("doctor@school.test", password)
	b.run("create an exam",
		b.open("/admin/exams/new"),
		chromedp.WaitVisible(chromedp.CSS("#title")),
		chromedp.SendKeys(chromedp.CSS("#title"), "Cells & tissues <quiz>"),
		chromedp.SendKeys(chromedp.CSS("#description"), "Chapter 3"),
		chromedp.SetValue(chromedp.CSS("#level_id"), levelID),
		chromedp.SendKeys(chromedp.CSS("#time_limit_minutes"), "30"),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#publish")),
	)
	loc, err := value(b, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	examID := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], e.srv.URL+"/admin/exams/")
	examPath := "/admin/exams/" + examID

	imgPath := filepath.Join(tmp, "cell.png")
	writePNG(t, imgPath)
	setKind := func(kind string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.SetValue(chromedp.CSS("#kind"), kind),
			eval(`document.getElementById("kind").dispatchEvent(new Event("change"))`),
		)
	}
	b.run("question 1 (single, with an image)",
		b.open(examPath+"/questions/new"),
		chromedp.WaitVisible(chromedp.CSS("#text")),
		chromedp.SendKeys(chromedp.CSS("#text"), "Which organelle makes ATP?"),
		setKind("single"),
		chromedp.SendKeys(chromedp.CSS("#choice_a"), "Mitochondrion"),
		chromedp.SendKeys(chromedp.CSS("#choice_b"), "Ribosome"),
		chromedp.SendKeys(chromedp.CSS("#choice_c"), "Nucleus"),
		chromedp.Click(chromedp.CSS("#correct_a")),
		chromedp.SetValue(chromedp.CSS("#points"), "2"),
		chromedp.SetValue(chromedp.CSS("#negative_points"), "0.5"),
		chromedp.SetUploadFiles(chromedp.CSS("#image"), []string{imgPath}),
		chromedp.Click(chromedp.CSS(`button[value="another"]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	b.run("question 2 (true/false)",
		chromedp.WaitVisible(chromedp.CSS("#text")),
		chromedp.SendKeys(chromedp.CSS("#text"), "Plant cells have a cell wall."),
		setKind("true_false"),
		chromedp.WaitVisible(chromedp.CSS("#correct_true")),
		chromedp.Click(chromedp.CSS("#correct_true")),
	)
	b.submit("save question 2", chromedp.Click(chromedp.CSS(`button[value="another"]`)))
	b.screenshot("question-form")
	b.run("question 3 (multiple)",
		chromedp.SendKeys(chromedp.CSS("#text"), "Which are found in animal cells?"),
		setKind("multiple"),
		chromedp.SendKeys(chromedp.CSS("#choice_a"), "Cell membrane"),
		chromedp.SendKeys(chromedp.CSS("#choice_b"), "Lysosome"),
		chromedp.SendKeys(chromedp.CSS("#choice_c"), "Chloroplast"),
		chromedp.Click(chromedp.CSS("#correct_a")),
		chromedp.Click(chromedp.CSS("#correct_b")),
		chromedp.Click(chromedp.CSS(`button[value="exam"]`)),
		chromedp.WaitVisible(chromedp.CSS("#publish")),
	)
	b.run("the question image loads",
		chromedp.WaitVisible(chromedp.CSS("img.qimage")),
		voided(chromedp.Poll[bool](`(() => { const i = document.querySelector("img.qimage"); return i.complete && i.naturalWidth === 120; })()`,
			chromedp.WithPollingTimeout(5*time.Second))),
	)
	if h1 := b.text("h1"); h1 != "Cells & tissues <quiz>" {
		t.Fatalf("exam title rendered as %q", h1)
	}
	b.screenshot("exam-draft")
	ex, err := e.p.Commands.Repo.LoadExam(ctx, examID)
	if err != nil || len(ex.Questions) != 3 || ex.Questions[0].ImageID == "" || ex.Questions[0].NegativePoints != 0.5 ||
		ex.Questions[1].Kind != domain.KindTrueFalse || len(ex.Questions[2].Correct) != 2 {
		t.Fatalf("the exam as stored: %+v %v", ex, err)
	}
	q1, q2, q3 := ex.Questions[0].ID, ex.Questions[1].ID, ex.Questions[2].ID

	b.run("publish", chromedp.Click(chromedp.CSS("#publish")), chromedp.WaitVisible(chromedp.CSS("#close")))
	if got := b.text(".flash"); got != "Exam published." {
		t.Fatalf("after publish: %q", got)
	}

	// --- the students answer through the JSON API ---
	answers := map[string][]map[string]any{
		"s1@school.test": {{"question_id": q1, "choices": []string{"a"}}, {"question_id": q2, "choices": []string{"true"}},
			{"question_id": q3, "choices": []string{"a", "b"}}},
		"s2@school.test": {{"question_id": q1, "choices": []string{"b"}}, {"question_id": q2, "choices": []string{"true"}},
			{"question_id": q3, "choices": []string{"a", "b"}}},
	}
	for email, ans := range answers {
		tok := e.apiLogin(email)
		if st, body := e.api(http.MethodPost, "/exams/"+examID+"/attempt", tok, nil); st != http.StatusCreated && st != http.StatusOK {
			t.Fatalf("%s start: %d %s", email, st, body)
		}
		if st, body := e.api(http.MethodPost, "/exams/"+examID+"/answers", tok, map[string]any{"answers": ans}); st != http.StatusOK {
			t.Fatalf("%s answers: %d %s", email, st, body)
		}
		if st, body := e.api(http.MethodPost, "/exams/"+examID+"/submit", tok, nil); st != http.StatusOK {
			t.Fatalf("%s submit: %d %s", email, st, body)
		}
	}

	// --- close, results, export ---
	b.submit("close", chromedp.Click(chromedp.CSS("#close")))
	if got := b.text(".flash"); !strings.Contains(got, "closed") {
		t.Fatalf("after close: %q", got)
	}
	eventually(t, "the exam graded", func() bool {
		ex, err := e.p.Commands.Repo.LoadExam(ctx, examID)
		return err == nil && ex.GradeRound > 0
	})
	b.run("results", b.open(examPath+"/results"), chromedp.WaitVisible(chromedp.CSS("#results")))
	scores := b.text("#results tbody")
	// s1: 2 + 1 + 1; s2: −0.5 (negative marking) + 1 + 1.
	if !strings.Contains(scores, "s1@school.test\tStudent One\t4\t4") || !strings.Contains(scores, "s2@school.test\tStudent Two\t1.5\t4") {
		t.Fatalf("results table: %q", scores)
	}
	b.screenshot("results")

	attr, err := value(b, chromedp.AttributeValue(chromedp.CSS("#export-xlsx"), "href"))
	if err != nil {
		t.Fatalf("export link: %v", err)
	}
	href := attr.Value
	res, body := b.get(strings.TrimPrefix(href, e.srv.URL))
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Disposition"), ".xlsx") {
		t.Fatalf("XLSX export: %d %q", res.StatusCode, res.Header.Get("Content-Disposition"))
	}
	wb, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the export is not a valid XLSX: %v", err)
	}
	rows, err := wb.GetRows(wb.GetSheetList()[0])
	if err != nil || len(rows) != 3 || rows[0][0] != "email" || rows[0][1] != "score" ||
		rows[1][0] != "s1@school.test" || rows[1][1] != "4" || rows[2][0] != "s2@school.test" || rows[2][1] != "1.5" {
		t.Fatalf("XLSX rows: %v %v", rows, err)
	}

	// --- import: a bad file is refused row by row, a corrected one taken ---
	bad := filepath.Join(tmp, "bad.csv")
	if err := os.WriteFile(bad, []byte("email,score\nnobody@school.test,3\ns2@school.test,lots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.run("import a bad file",
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{bad}),
		chromedp.Click(chromedp.CSS("#import")),
		chromedp.WaitVisible(chromedp.CSS("#import-errors")),
	)
	if got := b.text("#import-errors"); !strings.Contains(got, "nobody@school.test") || !strings.Contains(got, "3\ts2@school.test") {
		t.Fatalf("import errors: %q", got)
	}
	b.screenshot("import-errors")
	good := filepath.Join(tmp, "corrected.csv")
	if err := os.WriteFile(good, []byte("email,score\ns1@school.test,3.5\ns2@school.test,1.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.run("import the corrected file",
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{good}),
		chromedp.Click(chromedp.CSS("#import")),
		chromedp.WaitVisible(chromedp.CSS("#import-ok")),
	)
	if got := b.text("#import-ok"); !strings.Contains(got, "Imported 2 row(s); 1 score(s) changed") {
		t.Fatalf("import: %q", got)
	}
	if got := b.text("#results tbody"); !strings.Contains(got, "s1@school.test\tStudent One\t3.5\t4") {
		t.Fatalf("results after the import: %q", got)
	}

	// --- correct the key of question 1 (b, not a): preview, then confirm ---
	b.run("key correction form",
		b.open(examPath+"/questions/"+q1+"/key"),
		chromedp.WaitVisible(chromedp.CSS("#key_a")),
		chromedp.Click(chromedp.CSS("#key_a")),
		chromedp.Click(chromedp.CSS("#key_b")),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#diff")),
	)
	diff := b.text("#diff tbody")
	if !strings.Contains(diff, "s1@school.test\tStudent One\t3.5 (set by hand; computed 4)\t1.5") ||
		!strings.Contains(diff, "s2@school.test\tStudent Two\t1.5\t4") {
		t.Fatalf("regrade preview: %q", diff)
	}
	b.screenshot("regrade-preview")
	if ex, _ := e.p.Commands.Repo.LoadExam(ctx, examID); ex.KeyCorrections != 0 {
		t.Fatal("the preview corrected the key")
	}

	// A form whose CSRF token was removed is refused and changes nothing.
	before := e.head()
	b.run("confirm without a CSRF token",
		eval(`document.querySelector('form[action$="/key/confirm"] input[name="csrf_token"]').remove()`),
		chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS(`main p.error`)),
	)
	if h1 := b.text("h1"); h1 != "Forbidden" || e.head() != before {
		t.Fatalf("a form without its token: page %q, store moved %d → %d", h1, before, e.head())
	}
	b.screenshot("csrf-refused")

	b.run("preview again and confirm",
		b.open(examPath+"/questions/"+q1+"/key"),
		chromedp.WaitVisible(chromedp.CSS("#key_a")),
		chromedp.Click(chromedp.CSS("#key_a")),
		chromedp.Click(chromedp.CSS("#key_b")),
		chromedp.Click(chromedp.CSS("#preview")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#results")),
	)
	if got := b.text(".flash"); !strings.Contains(got, "regraded") {
		t.Fatalf("after confirming: %q", got)
	}
	if got := b.text("#results tbody"); !strings.Contains(got, "s2@school.test\tStudent Two\t4\t4") ||
		!strings.Contains(got, "s1@school.test\tStudent One\t1.5\t4") {
		t.Fatalf("results after the regrade: %q", got)
	}
	if ex, _ := e.p.Commands.Repo.LoadExam(ctx, examID); ex.KeyCorrections != 1 || ex.Questions[0].Correct[0] != "b" {
		t.Fatalf("the key as stored: %+v", ex.Questions[0])
	}
	b.screenshot("results-regraded")

	// --- audit trail and statistics ---
	b.run("audit", b.open(examPath+"/audit"), chromedp.WaitVisible(chromedp.CSS("#audit")))
	audit := b.text("#audit")
	for _, typ := range []string{"exam.drafted", "exam.published", "exam.closed", "exam.answer_key_corrected", "grade.score_overridden"} {
		if !strings.Contains(audit, typ) {
			t.Errorf("the audit trail lacks %s", typ)
		}
	}
	if n := strings.Count(audit, "exam.graded.v1"); n != 2 {
		t.Errorf("the audit trail shows %d gradings, want 2 (the first, the regrade)", n)
	}
	b.screenshot("audit")

	b.run("stats", b.open(examPath+"/stats"), chromedp.WaitVisible(chromedp.CSS("#distribution")))
	bars, err := value(b, chromedp.Evaluate[int](`document.querySelectorAll("#distribution rect.bar").length`))
	if err != nil {
		t.Fatalf("count bars: %v", err)
	}
	if bars == 0 {
		t.Fatal("the score distribution chart has no bars")
	}
	if got := b.text("#item-stats tbody"); !strings.Contains(got, "Which organelle makes ATP?") || !strings.Contains(got, "a: 1") {
		t.Fatalf("item statistics: %q", got)
	}
	b.screenshot("stats")

	// On a phone, pages fit the width: nothing scrolls sideways but tables.
	for _, p := range []string{examPath, examPath + "/results", examPath + "/questions/" + q1 + "/key"} {
		b.run("phone "+p, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), b.open(p), chromedp.WaitVisible(chromedp.CSS("h1")))
		over, err := value(b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || over {
			t.Errorf("%s is wider than a phone (%v)", p, err)
		}
	}
	b.screenshot("key-form-phone")
	b.run("phone exam page", b.open(examPath), chromedp.WaitVisible(chromedp.CSS("h1")))
	b.screenshot("exam-phone")
}
