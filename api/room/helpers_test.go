package room_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/examhall/exam/auth"
	platform "github.com/examhall/exam/cmd/platform"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
)

const (
	adminEmail    = "admin@school.test"
	adminPassword = "admin-pass-123"
	password      = "password-123"
)

// env is one embedded platform served over HTTP (the exam room included).
type env struct {
	t     testing.TB
	p     *platform.Platform
	srv   *httptest.Server
	admin domain.Actor
	n     atomic.Int64
}

func start(t testing.TB) *env {
	t.Helper()
	cfg := platform.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.JWTSecret = "room-tests-jwt-secret-0123456789abcdef"
	cfg.Argon2 = auth.TestArgon2Params()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.AdminEmail, cfg.AdminPassword = adminEmail, adminPassword
	cfg.SchedulerInterval = 20 * time.Millisecond
	p, err := platform.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open platform: %v", err)
	}
	e := &env{t: t, p: p, srv: httptest.NewServer(p.Handler)}
	t.Cleanup(func() {
		e.srv.Close()
		if err := p.Close(); err != nil {
			t.Errorf("close platform: %v", err)
		}
	})
	u, err := p.Commands.Repo.LoadUserByEmail(context.Background(), adminEmail)
	if err != nil || u == nil {
		t.Fatalf("load admin: %v", err)
	}
	e.admin = u.Actor()
	return e
}

func (e *env) unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, e.n.Add(1)) }

func (e *env) meta(a domain.Actor) commands.Meta {
	return commands.Meta{Actor: a, RequestID: e.unique("test")}
}

func (e *env) level(name string) string {
	e.t.Helper()
	res, err := e.p.Commands.CreateLevel.Handle(context.Background(), e.meta(e.admin), name)
	if err != nil {
		e.t.Fatalf("create level: %v", err)
	}
	return res.Level.ID
}

func (e *env) user(role domain.Role, fullName, levelID string) *domain.User {
	e.t.Helper()
	res, err := e.p.Commands.RegisterUser.Handle(context.Background(), e.meta(e.admin), domain.RegisterInput{
		Email: e.unique(string(role)) + "@school.test", Password: password, FullName: fullName, Role: role, LevelID: levelID})
	if err != nil {
		e.t.Fatalf("register %s: %v", role, err)
	}
	return res.User
}

// exam drafts and publishes an open exam of three questions (single with
// keys a,b,c; multiple with a,b,c; true_false) and returns it.
func (e *env) exam(owner *domain.User, levelID string, timeLimit int) *domain.Exam {
	e.t.Helper()
	ctx := context.Background()
	in := domain.ExamDraftInput{Title: "Cells <&> tissues", Description: "Chapter 3", LevelID: levelID, TimeLimitSeconds: timeLimit,
		Questions: []domain.QuestionInput{
			{Text: "Which organelle makes ATP?", Kind: domain.KindSingle, Correct: []string{"a"},
				Choices: []domain.Choice{{Text: "Mitochondrion"}, {Text: "Ribosome"}, {Text: "<b>Nucleus</b>"}}},
			{Text: "Which are found in plant cells?", Kind: domain.KindMultiple, Correct: []string{"a", "c"},
				Choices: []domain.Choice{{Text: "Cell wall"}, {Text: "Centrioles"}, {Text: "Chloroplasts"}}},
			{Text: "Cells divide by mitosis.", Kind: domain.KindTrueFalse, Correct: []string{"true"}},
		}}
	m := e.meta(owner.Actor())
	res, err := e.p.Commands.DraftExam.Handle(ctx, m, in)
	if err != nil {
		e.t.Fatalf("draft exam: %v", err)
	}
	pub, err := e.p.Commands.PublishExam.Handle(ctx, e.meta(owner.Actor()), res.Exam.ID)
	if err != nil {
		e.t.Fatalf("publish exam: %v", err)
	}
	return pub.Exam
}

// attempt is the student's attempt as the event store has it.
func (e *env) attempt(examID, studentID string) *domain.Attempt {
	e.t.Helper()
	t, err := e.p.Commands.Repo.LoadAttempt(context.Background(), examID, studentID)
	if err != nil {
		e.t.Fatalf("load attempt: %v", err)
	}
	return t
}

// chromiumPath is Debian's chromium, which scripts/ensure-chromium.sh installs.
const chromiumPath = "/usr/bin/chromium"

// browser drives one headless Chromium against the test platform.
type browser struct {
	t    *testing.T
	e    *env
	ctx  context.Context
	shot int
	dir  string
	name string // of a second tab, in its screenshots' names
}

func newBrowser(t *testing.T, e *env) *browser {
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
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 180*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancelTimeout() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium (%s): %v — run scripts/ensure-chromium.sh", path, err)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("enable the network domain: %v", err)
	}
	return &browser{t: t, e: e, ctx: bctx, dir: screenshotDir(t)}
}

// screenshotDir is artifacts/screenshots at the repository root; this
// package's pictures are named room-NN-*.png.
func screenshotDir(t *testing.T) string {
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
	out := filepath.Join(dir, "artifacts", "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatalf("screenshots dir: %v", err)
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
		body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
		b.t.Fatalf("%s: %v (at %s: %.800s)", step, err, loc, body)
	}
}

func (b *browser) open(path string) chromedp.Action[chromedp.Void] {
	return chromedp.Navigate(b.e.srv.URL + path)
}

// screenshot writes the whole page as artifacts/screenshots/room-NN-name.png.
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
	file := filepath.Join(b.dir, fmt.Sprintf("room-%s%s-%02d-%s.png", b.t.Name(), b.name, b.shot, name))
	if err := os.WriteFile(file, buf, 0o644); err != nil {
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

// waitJS waits until the expression is true in the page.
func (b *browser) waitJS(step, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		status, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.getElementById("save-status") || {}).textContent || "(no save status)"`))
		body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
		b.t.Fatalf("%s: waiting for %s: %v (save status %q; page: %.1500s)", step, expr, err, status, body)
	}
}

// emulateNetworkConditions is DevTools' "Offline" switch (deprecated in
// the protocol in favour of the per-rule variant, which does not reach
// requests a service worker lets through; still served by Chromium).
var emulateNetworkConditions = cdp.Command[emulateParams, cdp.Empty]{Method: "Network.emulateNetworkConditions"}

type emulateParams struct {
	Offline            bool    `json:"offline"`
	Latency            float64 `json:"latency"`
	DownloadThroughput float64 `json:"downloadThroughput"`
	UploadThroughput   float64 `json:"uploadThroughput"`
}

// network cuts or restores the tab's network the way DevTools does: every
// request (the service worker's too) fails while offline, and
// navigator.onLine says so.
func (b *browser) network(online bool) {
	b.t.Helper()
	b.run(fmt.Sprintf("network online=%v", online), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		offline := !online
		if _, err := cdp.Call(ctx, t, emulateNetworkConditions, emulateParams{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: &offline,
			MatchedNetworkConditions:    []*network.Conditions{{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1}},
		}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.OverrideNetworkState, network.OverrideNetworkStateParams{
			Offline: offline, DownloadThroughput: -1, UploadThroughput: -1})
		return err
	}))
}

// value runs one action that returns a value.
func value[T any](b *browser, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// pick scrolls the element to the middle of the screen (clear of the
// sticky bar) and clicks it as a user would.
func pick(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		voided(chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q).scrollIntoView({block: "center"}), true)`, sel))),
		chromedp.Click(chromedp.CSS(sel)),
	)
}

// voided drops an action's value.
func voided[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// choice is the selector of one choice input of a question.
func choice(qid, key string) string {
	return fmt.Sprintf(`input[name="q-%s"][value="%s"]`, qid, key)
}

// tab opens another tab of the same browser (its own page, the browser's
// cookies and storage).
func (b *browser) tab(name string) *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open a tab: %v", err)
	}
	return &browser{t: b.t, e: b.e, ctx: ctx, dir: b.dir, shot: 50, name: name}
}

// eventually polls cond until it holds or 20 seconds pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
