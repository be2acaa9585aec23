package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// env is one platform, served over HTTP, with the web admin mounted.
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
	cfg.JWTSecret = "admin-tests-jwt-secret-0123456789abcdef"
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

func (e *env) head() uint64 {
	e.t.Helper()
	h, err := e.p.Store.Head(context.Background())
	if err != nil {
		e.t.Fatalf("store head: %v", err)
	}
	return h
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

// client is a browser-like HTTP client: cookies, no automatic redirects.
type client struct {
	e   *env
	hc  *http.Client
	jar *cookiejar.Jar
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, jar: jar, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) page {
	c.e.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (c *client) get(path string) page {
	req, _ := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values, headers ...string) page {
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf is the token of the first form on the page at path.
func (c *client) csrf(path string) string {
	c.e.t.Helper()
	p := c.get(path)
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		c.e.t.Fatalf("GET %s: no CSRF token in the page (status %d)", path, p.status)
	}
	return m[1]
}

// login signs in through the form and returns the response to the POST.
func (c *client) login(email, pw string) page {
	c.e.t.Helper()
	tok := c.csrf("/admin/login")
	return c.post("/admin/login", url.Values{"csrf_token": {tok}, "email": {email}, "password": {pw}})
}

func (c *client) mustLogin(email, pw string) {
	c.e.t.Helper()
	if p := c.login(email, pw); p.status != http.StatusSeeOther {
		c.e.t.Fatalf("login %s: status %d, want 303: %s", email, p.status, p.body)
	}
}

// --- JSON API (students answer through it) ---

func (e *env) api(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+"/api/v1"+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (e *env) apiLogin(email string) string {
	e.t.Helper()
	st, b := e.api(http.MethodPost, "/auth/login", "", map[string]string{"email": email, "password": password})
	if st != http.StatusOK {
		e.t.Fatalf("api login %s: %d %s", email, st, b)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(b, &out)
	return out.AccessToken
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
