package admin_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/examhall/exam/api/admin"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	e := start(t)
	lvl := e.level("L1")
	doctor := e.user(domain.RoleDoctor, "Dr Who", "")
	student := e.user(domain.RoleStudent, "Stu Dent", lvl)

	t.Run("admin signs in and sees the dashboard", func(t *testing.T) {
		c := e.client()
		p := c.login(adminEmail, adminPassword)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/admin/" {
			t.Fatalf("login: %d %q", p.status, p.header.Get("Location"))
		}
		d := c.get("/admin/")
		if d.status != http.StatusOK || !strings.Contains(d.body, "<h1>Dashboard</h1>") || !strings.Contains(d.body, `href="/admin/users"`) {
			t.Fatalf("dashboard: %d %s", d.status, d.body)
		}
	})
	t.Run("doctor signs in without the admin menu", func(t *testing.T) {
		c := e.client()
		c.mustLogin(doctor.Email, password)
		d := c.get("/admin/")
		if d.status != http.StatusOK || strings.Contains(d.body, `href="/admin/users"`) {
			t.Fatalf("dashboard for a doctor: %d", d.status)
		}
		if p := c.get("/admin/users"); p.status != http.StatusForbidden {
			t.Fatalf("doctor on /admin/users: %d, want 403", p.status)
		}
	})
	t.Run("student is refused", func(t *testing.T) {
		c := e.client()
		p := c.login(student.Email, password)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "for administrators and doctors") {
			t.Fatalf("student login: %d %s", p.status, p.body)
		}
		if d := c.get("/admin/"); d.status != http.StatusSeeOther {
			t.Fatalf("student without a session: %d, want a redirect to the login", d.status)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		c := e.client()
		p := c.login(adminEmail, "not-the-password")
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Wrong email or password") {
			t.Fatalf("wrong password: %d", p.status)
		}
		for _, ck := range c.jar.Cookies(mustURL(t, e.srv.URL+"/admin/")) {
			if ck.Name == admin.SessionCookie {
				t.Fatal("a failed login set a session cookie")
			}
		}
	})
	t.Run("login form without CSRF token", func(t *testing.T) {
		c := e.client()
		c.get("/admin/login")
		p := c.post("/admin/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
		if p.status != http.StatusForbidden {
			t.Fatalf("login without token: %d, want 403", p.status)
		}
	})
	t.Run("a deactivated user is signed out at once", func(t *testing.T) {
		d := e.user(domain.RoleDoctor, "Short Lived", "")
		c := e.client()
		c.mustLogin(d.Email, password)
		if p := c.get("/admin/"); p.status != http.StatusOK {
			t.Fatalf("before: %d", p.status)
		}
		active := false
		if _, err := e.p.Commands.UpdateUser.Handle(context.Background(), e.meta(e.admin),
			commands.UpdateUserInput{UserID: d.ID, Patch: domain.UserPatch{Active: &active}}); err != nil {
			t.Fatal(err)
		}
		if p := c.get("/admin/"); p.status != http.StatusSeeOther {
			t.Fatalf("after deactivation: %d, want a redirect to the login", p.status)
		}
	})
	t.Run("logout ends the session", func(t *testing.T) {
		c := e.client()
		c.mustLogin(adminEmail, adminPassword)
		var cookie string
		for _, ck := range c.jar.Cookies(mustURL(t, e.srv.URL+"/admin/")) {
			if ck.Name == admin.SessionCookie {
				cookie = ck.Value
			}
		}
		tok := c.csrf("/admin/")
		if p := c.post("/admin/logout", url.Values{"csrf_token": {tok}}); p.status != http.StatusSeeOther {
			t.Fatalf("logout: %d", p.status)
		}
		if p := c.get("/admin/"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/admin/login") {
			t.Fatalf("after logout: %d %q", p.status, p.header.Get("Location"))
		}
		// The cookie itself is dead, not just deleted: replaying it fails.
		replay := e.client()
		replay.jar.SetCookies(mustURL(t, e.srv.URL+"/admin/"), []*http.Cookie{{Name: admin.SessionCookie, Value: cookie, Path: "/admin/"}})
		if p := replay.get("/admin/"); p.status != http.StatusSeeOther {
			t.Fatalf("a logged-out session cookie replayed: %d", p.status)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCookieFlagsAndHeaders(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, tc := range []struct {
		name       string
		headers    []string
		wantSecure bool
	}{
		{"plain http", nil, false},
		{"behind a TLS proxy", []string{"X-Forwarded-Proto", "https"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client()
			tok := c.csrf("/admin/login")
			p := c.post("/admin/login", url.Values{"csrf_token": {tok}, "email": {adminEmail}, "password": {adminPassword}}, tc.headers...)
			if p.status != http.StatusSeeOther {
				t.Fatalf("login: %d", p.status)
			}
			res := &http.Response{Header: p.header}
			seen := map[string]bool{}
			for _, ck := range res.Cookies() {
				seen[ck.Name] = true
				if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/admin/" || ck.Secure != tc.wantSecure {
					t.Errorf("cookie %s: HttpOnly=%v SameSite=%v Path=%q Secure=%v", ck.Name, ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure)
				}
			}
			if !seen[admin.SessionCookie] {
				t.Fatalf("session cookies missing: %v", seen)
			}
		})
	}
	t.Run("CSP on every page", func(t *testing.T) {
		c := e.client()
		for _, path := range []string{"/admin/login", "/admin/static/admin.css"} {
			if got := c.get(path).header.Get("Content-Security-Policy"); got != admin.ContentSecurityPolicy {
				t.Errorf("%s: CSP %q", path, got)
			}
		}
		if p := c.get("/admin/static/"); p.status == http.StatusOK {
			t.Error("the static folder is listed")
		}
		if p := c.get("/admin/static/admin.js"); p.status != http.StatusOK || !strings.Contains(p.header.Get("Content-Type"), "javascript") {
			t.Errorf("admin.js: %d %q", p.status, p.header.Get("Content-Type"))
		}
		c.mustLogin(adminEmail, adminPassword)
		p := c.get("/admin/")
		if got := p.header.Get("Content-Security-Policy"); got != admin.ContentSecurityPolicy {
			t.Errorf("dashboard: CSP %q", got)
		}
		if !strings.Contains(admin.ContentSecurityPolicy, "script-src 'self'") || strings.Contains(admin.ContentSecurityPolicy, "unsafe-inline") {
			t.Errorf("CSP too weak: %s", admin.ContentSecurityPolicy)
		}
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, "style=") {
			t.Error("a page has an inline script or style, which the CSP would block")
		}
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := start(t)
	c := e.client()
	c.mustLogin(adminEmail, adminPassword)
	good := c.csrf("/admin/levels")
	other := e.client()
	other.mustLogin(adminEmail, adminPassword)
	otherSession := other.csrf("/admin/levels")

	for _, tc := range []struct {
		name  string
		token string
	}{
		{"no token", ""},
		{"wrong token", "bm90LWEtdG9rZW4"},
		{"another session's token", otherSession},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.head()
			form := url.Values{"name": {"Forged level"}}
			if tc.token != "" {
				form.Set("csrf_token", tc.token)
			}
			if p := c.post("/admin/levels", form); p.status != http.StatusForbidden {
				t.Fatalf("POST with %s: %d, want 403", tc.name, p.status)
			}
			if p := c.post("/admin/users", url.Values{"csrf_token": {tc.token}, "email": {"x@school.test"}, "password": {password},
				"full_name": {"X"}, "role": {"doctor"}}); p.status != http.StatusForbidden {
				t.Fatalf("POST /admin/users with %s: %d, want 403", tc.name, p.status)
			}
			if after := e.head(); after != before {
				t.Fatalf("the store moved from %d to %d: a refused form changed something", before, after)
			}
		})
	}
	t.Run("multipart form without a token", func(t *testing.T) {
		lvl := e.level("L2")
		res, err := e.p.Commands.DraftExam.Handle(context.Background(), e.meta(e.admin), domain.ExamDraftInput{Title: "T", LevelID: lvl})
		if err != nil {
			t.Fatal(err)
		}
		before := e.head()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("text", "Forged question")
		_ = mw.WriteField("kind", "true_false")
		_ = mw.WriteField("correct", "true")
		_ = mw.Close()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/admin/exams/"+res.Exam.ID+"/questions", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if p := c.do(req); p.status != http.StatusForbidden {
			t.Fatalf("multipart POST without a token: %d", p.status)
		}
		if e.head() != before {
			t.Fatal("a refused multipart form changed something")
		}
	})
	t.Run("the right token works", func(t *testing.T) {
		before := e.head()
		p := c.post("/admin/levels", url.Values{"csrf_token": {good}, "name": {"Level A"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("POST with the token: %d %s", p.status, p.body)
		}
		if e.head() == before {
			t.Fatal("nothing was appended")
		}
		if l := c.get("/admin/levels"); !strings.Contains(l.body, "Level A") {
			t.Fatal("the new level is not listed")
		}
	})
}

func TestOutputIsEscaped(t *testing.T) {
	t.Parallel()
	e := start(t)
	evil := "<script>alert(1)</script>"
	u := e.user(domain.RoleDoctor, evil, "")
	c := e.client()
	c.mustLogin(adminEmail, adminPassword)
	for _, path := range []string{"/admin/users/" + u.ID, "/admin/users?q=" + url.QueryEscape(evil)} {
		p := c.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, p.status)
		}
		if strings.Contains(p.body, evil) {
			t.Fatalf("GET %s renders the name unescaped", path)
		}
		if !strings.Contains(p.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatalf("GET %s does not show the escaped name", path)
		}
	}
	// The doctor's own header shows the name too.
	d := e.client()
	d.mustLogin(u.Email, password)
	if p := d.get("/admin/"); strings.Contains(p.body, evil) || !strings.Contains(p.body, "&lt;script&gt;") {
		t.Fatal("the header renders the signed-in name unescaped")
	}
}

func TestDoctorCannotOpenAnotherDoctorsExam(t *testing.T) {
	t.Parallel()
	e := start(t)
	lvl := e.level("L1")
	owner := e.user(domain.RoleDoctor, "Owner", "")
	intruder := e.user(domain.RoleDoctor, "Intruder", "")
	res, err := e.p.Commands.DraftExam.Handle(context.Background(), e.meta(owner.Actor()), domain.ExamDraftInput{Title: "Owner's exam", LevelID: lvl})
	if err != nil {
		t.Fatalf("draft: %v", err)
	}
	id := res.Exam.ID

	c := e.client()
	c.mustLogin(intruder.Email, password)
	for _, path := range []string{"/admin/exams/" + id, "/admin/exams/" + id + "/results", "/admin/exams/" + id + "/audit",
		"/admin/exams/" + id + "/stats", "/admin/exams/" + id + "/results/export?format=csv"} {
		if p := c.get(path); p.status != http.StatusNotFound || strings.Contains(p.body, "Owner&#39;s exam") {
			t.Errorf("intruder GET %s: %d", path, p.status)
		}
	}
	if p := c.get("/admin/exams"); strings.Contains(p.body, id) {
		t.Error("the intruder's exam list shows the exam")
	}
	before := e.head()
	tok := c.csrf("/admin/")
	if p := c.post("/admin/exams/"+id+"/publish", url.Values{"csrf_token": {tok}}); p.status != http.StatusNotFound {
		t.Errorf("intruder publish: %d, want 404", p.status)
	}
	if e.head() != before {
		t.Error("the intruder's publish appended events")
	}

	o := e.client()
	o.mustLogin(owner.Email, password)
	if p := o.get("/admin/exams/" + id); p.status != http.StatusOK || !strings.Contains(p.body, "Owner&#39;s exam") {
		t.Errorf("owner GET: %d", p.status)
	}
}

// A browser that signed in before keeps getting in while others' failed
// logins have locked the account (its device cookie is counted apart), and
// a fresh browser is locked as before.
func TestKnownBrowserGetsInWhileTheAccountIsLocked(t *testing.T) {
	t.Parallel()
	e := start(t)
	d := e.user(domain.RoleDoctor, "Dr Known", "")
	known := e.client()
	known.mustLogin(d.Email, password)
	hasDevice := false
	for _, ck := range known.jar.Cookies(mustURL(t, e.srv.URL+"/admin/")) {
		hasDevice = hasDevice || ck.Name == admin.DeviceCookie && ck.Value != ""
	}
	if !hasDevice {
		t.Fatal("a login set no device cookie")
	}
	known.post("/admin/logout", url.Values{"csrf_token": {known.csrf("/admin/")}})

	attacker := e.client()
	for range 8 {
		attacker.login(d.Email, "guess-guess")
	}
	if p := e.client().login(d.Email, password); p.status != http.StatusTooManyRequests {
		t.Fatalf("a fresh browser with the right password: %d, want 429 (the account is locked)", p.status)
	}
	if p := known.login(d.Email, password); p.status != http.StatusSeeOther {
		t.Fatalf("the known browser: %d %s, want a redirect into the admin", p.status, p.body)
	}
}
