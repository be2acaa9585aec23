// Package component_test drives the whole platform, wired in-process by
// cmd/platform, through its real HTTP API, the way a client would. Each test
// gets its own platform (data directory, clock, server), so tests run in
// parallel without sharing state.
package component_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examhall/exam/auth"
	platform "github.com/examhall/exam/cmd/platform"
)

const (
	adminEmail    = "admin@school.test"
	adminPassword = "admin-pass-123"
	// jwtSecret is known to the tests so they can sign expired and other
	// hand-made tokens the platform must refuse.
	jwtSecret = "component-tests-jwt-secret-0123456789abcdef"
	// waitTimeout bounds every poll for asynchronous work (grading,
	// scheduling, projections).
	waitTimeout = 15 * time.Second
)

// clock is a controllable clock, shared by the platform's commands,
// tokens, throttle and scheduler. Like a real clock it never stands still:
// each reading is a microsecond after the previous one, so events keep
// their order in time (an answer saved before a close is earlier than it).
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond)
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// option adjusts a test platform's configuration.
type option func(*platform.Config)

// withoutJWTSecret lets the platform generate and keep its own secret in the
// data directory.
func withoutJWTSecret() option { return func(c *platform.Config) { c.JWTSecret = "" } }

// withAccessTTL changes the access token lifetime (for tests that move the
// clock by hours).
func withAccessTTL(d time.Duration) option { return func(c *platform.Config) { c.AccessTTL = d } }

// env is one running platform and an HTTP client for it.
type env struct {
	t     testing.TB
	cfg   platform.Config
	clock *clock
	p     *platform.Platform
	srv   *httptest.Server
	// pos is the highest X-Event-Position seen; GETs send it as
	// X-Min-Position so a test reads its own writes.
	pos     atomic.Uint64
	admin   *user
	counter atomic.Int64
}

// start opens a platform in a fresh data directory with a bootstrapped
// admin, serves it, and logs the admin in.
func start(t testing.TB, opts ...option) *env {
	t.Helper()
	e := &env{t: t, clock: newClock()}
	cfg := platform.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.JWTSecret = jwtSecret
	cfg.Argon2 = auth.TestArgon2Params()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.AdminEmail, cfg.AdminPassword = adminEmail, adminPassword
	cfg.Now = e.clock.Now
	cfg.SchedulerInterval = 20 * time.Millisecond
	for _, o := range opts {
		o(&cfg)
	}
	e.cfg = cfg
	e.open()
	t.Cleanup(e.close)
	e.admin = e.login(adminEmail, adminPassword)
	return e
}

func (e *env) open() {
	e.t.Helper()
	p, err := platform.Open(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatalf("open platform: %v", err)
	}
	e.p = p
	e.srv = httptest.NewServer(p.Handler)
}

func (e *env) close() {
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
	if e.p != nil {
		if err := e.p.Close(); err != nil {
			e.t.Errorf("close platform: %v", err)
		}
		e.p = nil
	}
}

// restart stops the platform and opens a new one over the same data
// directory.
func (e *env) restart() {
	e.t.Helper()
	e.close()
	e.pos.Store(0)
	e.open()
}

// unique returns a string unique within this platform.
func (e *env) unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, e.counter.Add(1))
}

// head is the event store's head position.
func (e *env) head() uint64 {
	e.t.Helper()
	h, err := e.p.Store.Head(context.Background())
	if err != nil {
		e.t.Fatalf("store head: %v", err)
	}
	return h
}

// --- HTTP ---------------------------------------------------------------

// resp is a whole HTTP response.
type resp struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (r *resp) String() string {
	return fmt.Sprintf("%s %s -> %d %s", r.method, r.path, r.status, truncate(string(r.body), 600))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// hdr is a header to send: pairs of name and value.
type hdr []string

// call sends a request to /api/v1 + path (or to path itself when it does
// not start with "/api/v1" and starts with "!"). body may be nil, a string or
// []byte (sent as is), an io.Reader (sent chunked) or any value (sent as
// JSON). A body gets Content-Type application/json unless hdr sets one.
func (e *env) call(method, path, token string, body any, headers ...string) *resp {
	e.t.Helper()
	url := e.srv.URL + "/api/v1" + path
	if raw, ok := strings.CutPrefix(path, "!"); ok {
		url = e.srv.URL + raw
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodGet {
		if p := e.pos.Load(); p > 0 {
			req.Header.Set("X-Min-Position", strconv.FormatUint(p, 10))
		}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if p, err := strconv.ParseUint(res.Header.Get("X-Event-Position"), 10, 64); err == nil {
		for {
			cur := e.pos.Load()
			if p <= cur || e.pos.CompareAndSwap(cur, p) {
				break
			}
		}
	}
	return &resp{method: method, path: path, status: res.StatusCode, header: res.Header, body: data}
}

func (e *env) get(path, token string) *resp { return e.call(http.MethodGet, path, token, nil) }

func (e *env) post(path, token string, body any, headers ...string) *resp {
	return e.call(http.MethodPost, path, token, body, headers...)
}

func (e *env) put(path, token string, body any, headers ...string) *resp {
	return e.call(http.MethodPut, path, token, body, headers...)
}

// want fails the test unless the status is one of statuses.
func (r *resp) want(t testing.TB, statuses ...int) *resp {
	t.Helper()
	for _, s := range statuses {
		if r.status == s {
			return r
		}
	}
	t.Fatalf("want status %v: %s", statuses, r)
	return r
}

// wantError checks the status and the contract's error shape and code.
func (r *resp) wantError(t testing.TB, status int, code string) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("want %d %s: %s", status, code, r)
	}
	if got := r.errorCode(t); got != code {
		t.Fatalf("want error code %q, got %q: %s", code, got, r)
	}
	return r
}

// errorBody is the contract's error shape.
type errorBody struct {
	Error struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

func (r *resp) errorBody(t testing.TB) errorBody {
	t.Helper()
	var eb errorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("not the contract's error shape (%v): %s", err, r)
	}
	if eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("error without code or message: %s", r)
	}
	return eb
}

func (r *resp) errorCode(t testing.TB) string { return r.errorBody(t).Error.Code }

// fields returns details.fields of a validation error.
func (r *resp) fields(t testing.TB) map[string]any {
	t.Helper()
	eb := r.errorBody(t)
	f, ok := eb.Error.Details["fields"].(map[string]any)
	if !ok {
		t.Fatalf("validation error without details.fields: %s", r)
	}
	return f
}

// decode decodes the JSON body into v.
func (r *resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, r)
	}
}

// obj decodes a JSON object body.
func (r *resp) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// --- users and tokens ---------------------------------------------------

// user is a registered user and its current tokens.
type user struct {
	ID, Email, Password, Role, LevelID, FullName string
	Access, Refresh                              string
}

type tokenResponse struct {
	AccessToken  string   `json:"access_token"`
	RefreshToken string   `json:"refresh_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int      `json:"expires_in"`
	User         userView `json:"user"`
}

type userView struct {
	ID        string  `json:"id"`
	Email     string  `json:"email"`
	FullName  string  `json:"full_name"`
	Role      string  `json:"role"`
	Active    bool    `json:"active"`
	LevelID   *string `json:"level_id"`
	IDNumber  *string `json:"id_number"`
	Subject   *string `json:"subject"`
	CreatedAt string  `json:"created_at"`
}

func (e *env) login(email, password string) *user {
	e.t.Helper()
	r := e.post("/auth/login", "", map[string]string{"email": email, "password": password}).want(e.t, http.StatusOK)
	var tr tokenResponse
	r.decode(e.t, &tr)
	u := &user{ID: tr.User.ID, Email: tr.User.Email, Password: password, Role: tr.User.Role, FullName: tr.User.FullName,
		Access: tr.AccessToken, Refresh: tr.RefreshToken}
	if tr.User.LevelID != nil {
		u.LevelID = *tr.User.LevelID
	}
	return u
}

// relogin refreshes u's tokens with a new login.
func (e *env) relogin(u *user) {
	e.t.Helper()
	n := e.login(u.Email, u.Password)
	u.Access, u.Refresh = n.Access, n.Refresh
}

// createLevel creates a level and returns its id.
func (e *env) createLevel(name string) string {
	e.t.Helper()
	r := e.post("/levels", e.admin.Access, map[string]string{"name": name}).want(e.t, http.StatusCreated)
	return r.obj(e.t)["id"].(string)
}

// createUser registers a user through the API and logs it in.
func (e *env) createUser(role, levelID, fullName string) *user {
	e.t.Helper()
	email := e.unique(role) + "@school.test"
	password := "pass-" + email
	body := map[string]any{"email": email, "password": password, "full_name": fullName, "role": role}
	switch role {
	case "student":
		body["level_id"] = levelID
		body["id_number"] = e.unique("id")
	case "doctor":
		body["subject"] = "Biology"
	}
	e.post("/users", e.admin.Access, body).want(e.t, http.StatusCreated)
	return e.login(email, password)
}

func (e *env) doctor() *user { return e.createUser("doctor", "", "Dr. "+e.unique("doc")) }

func (e *env) student(levelID string) *user {
	return e.createUser("student", levelID, "Student "+e.unique("s"))
}

// deactivate sets a user inactive (admin PATCH).
func (e *env) deactivate(u *user) {
	e.t.Helper()
	e.call(http.MethodPatch, "/users/"+u.ID, e.admin.Access, map[string]any{"active": false}).want(e.t, http.StatusOK)
}

// issuer signs tokens with the platform's secret (or another), on a clock
// shifted by skew.
func (e *env) issuer(secret string, skew time.Duration) *auth.TokenIssuer {
	e.t.Helper()
	ti, err := auth.NewTokenIssuer(auth.TokenConfig{Secret: []byte(secret), Issuer: auth.DefaultIssuer, AccessTTL: e.cfg.AccessTTL,
		Now: func() time.Time { return e.clock.Now().Add(skew) }})
	if err != nil {
		e.t.Fatal(err)
	}
	return ti
}

// expiredToken is an access token of u, correctly signed, that expired
// 45 minutes ago.
func (e *env) expiredToken(u *user) string {
	tok, _, err := e.issuer(jwtSecret, -time.Hour).IssueAccess(u.ID, u.Role, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// forgedToken is a well-formed access token for u signed with another key.
func (e *env) forgedToken(u *user) string {
	tok, _, err := e.issuer("not-the-platform-secret-0123456789abcdef", 0).IssueAccess(u.ID, u.Role, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// algNoneToken is an unsigned token ("alg": "none") with valid claims
// for u.
func (e *env) algNoneToken(u *user) string {
	enc := base64.RawURLEncoding.EncodeToString
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	now := e.clock.Now()
	claims, _ := json.Marshal(map[string]any{"iss": auth.DefaultIssuer, "sub": u.ID, "typ": "access", "role": u.Role,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "none-1"})
	return enc(header) + "." + enc(claims) + "."
}

// --- exams --------------------------------------------------------------

type choice struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

type question struct {
	ID             string   `json:"id"`
	Text           string   `json:"text"`
	Kind           string   `json:"kind"`
	Choices        []choice `json:"choices"`
	Correct        []string `json:"correct"`
	Points         float64  `json:"points"`
	NegativePoints float64  `json:"negative_points"`
	ImageID        *string  `json:"image_id"`
}

type examView struct {
	ID               string     `json:"id"`
	Title            string     `json:"title"`
	Description      string     `json:"description"`
	LevelID          string     `json:"level_id"`
	OwnerID          string     `json:"owner_id"`
	Status           string     `json:"status"`
	Version          int64      `json:"version"`
	OpensAt          *string    `json:"opens_at"`
	ClosesAt         *string    `json:"closes_at"`
	TimeLimitSeconds *int       `json:"time_limit_seconds"`
	MaxScore         float64    `json:"max_score"`
	QuestionCount    int        `json:"question_count"`
	CreatedAt        string     `json:"created_at"`
	Questions        []question `json:"questions"`
}

// standardQuestions is the exam every test uses unless it needs another:
//
//	q1 single      a b c    key b        2 points, −0.5 if wrong
//	q2 multiple    a b c d  key a c      3 points, partial credit
//	q3 true_false           key true     1 point
//	q4 single      a b      key a        2 points
//
// Max score 8.
func standardQuestions() []map[string]any {
	return []map[string]any{
		{"id": "q1", "text": "The powerhouse of the cell?", "kind": "single",
			"choices": []map[string]string{{"text": "Nucleus"}, {"text": "Mitochondrion"}, {"text": "Ribosome"}},
			"correct": []string{"b"}, "points": 2, "negative_points": 0.5},
		{"id": "q2", "text": "Which are organelles?", "kind": "multiple",
			"choices": []map[string]string{{"text": "Golgi body"}, {"text": "Plasma"}, {"text": "Lysosome"}, {"text": "Sand"}},
			"correct": []string{"a", "c"}, "points": 3},
		{"id": "q3", "text": "Plant cells have walls.", "kind": "true_false", "correct": []string{"true"}},
		{"id": "q4", "text": "DNA is in the nucleus.", "kind": "single",
			"choices": []map[string]string{{"key": "a", "text": "Yes"}, {"key": "b", "text": "No"}},
			"correct": []string{"a"}, "points": 2},
	}
}

// examBody is a valid POST /exams body; extra fields are merged in.
func examBody(title, levelID string, extra map[string]any) map[string]any {
	b := map[string]any{"title": title, "level_id": levelID, "description": "A component test exam",
		"questions": standardQuestions()}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// draftExam creates a draft exam owned by owner.
func (e *env) draftExam(owner *user, levelID string, extra map[string]any) examView {
	e.t.Helper()
	var ex examView
	e.post("/exams", owner.Access, examBody(e.unique("Exam"), levelID, extra)).want(e.t, http.StatusCreated).decode(e.t, &ex)
	if ex.Status != "draft" || ex.ID == "" {
		e.t.Fatalf("POST /exams answered status %q, id %q", ex.Status, ex.ID)
	}
	return ex
}

// publishedExam creates and publishes an exam.
func (e *env) publishedExam(owner *user, levelID string, extra map[string]any) examView {
	e.t.Helper()
	ex := e.draftExam(owner, levelID, extra)
	var pub examView
	e.post("/exams/"+ex.ID+"/publish", owner.Access, nil).want(e.t, http.StatusOK).decode(e.t, &pub)
	if pub.Status != "open" && pub.Status != "scheduled" {
		e.t.Fatalf("publish answered status %q", pub.Status)
	}
	return pub
}

// getExam reads an exam as u.
func (e *env) getExam(id string, u *user) examView {
	e.t.Helper()
	var ex examView
	e.get("/exams/"+id, u.Access).want(e.t, http.StatusOK).decode(e.t, &ex)
	return ex
}

// closeAndGrade closes an exam and waits until it is graded and its results
// list holds wantRows rows.
func (e *env) closeAndGrade(examID string, staff *user, wantRows int) {
	e.t.Helper()
	e.post("/exams/"+examID+"/close", staff.Access, nil).want(e.t, http.StatusAccepted)
	e.waitGraded(examID, staff, wantRows)
}

// waitGraded waits until the exam's status is graded and its results list
// holds wantRows rows.
func (e *env) waitGraded(examID string, staff *user, wantRows int) {
	e.t.Helper()
	waitFor(e.t, "exam "+examID+" graded", func() bool {
		return e.getExam(examID, staff).Status == "graded"
	})
	waitFor(e.t, "results of exam "+examID, func() bool {
		r := e.get("/exams/"+examID+"/results", staff.Access)
		if r.status != http.StatusOK {
			return false
		}
		return len(e.resultsOf(r).Items) == wantRows
	})
}

type resultItem struct {
	StudentID  string  `json:"student_id"`
	Email      string  `json:"email"`
	FullName   string  `json:"full_name"`
	Score      float64 `json:"score"`
	MaxScore   float64 `json:"max_score"`
	Percentage float64 `json:"percentage"`
	Answered   int     `json:"answered"`
	GradedAt   string  `json:"graded_at"`
}

type resultsList struct {
	Items []resultItem `json:"items"`
}

func (e *env) resultsOf(r *resp) resultsList {
	var l resultsList
	r.decode(e.t, &l)
	return l
}

// results returns the exam's results by student id.
func (e *env) results(examID string, staff *user) map[string]resultItem {
	e.t.Helper()
	l := e.resultsOf(e.get("/exams/"+examID+"/results", staff.Access).want(e.t, http.StatusOK))
	out := map[string]resultItem{}
	for _, it := range l.Items {
		out[it.StudentID] = it
	}
	return out
}

// answer saves one answer as a student.
func (e *env) answer(examID, qid string, s *user, choices ...string) *resp {
	e.t.Helper()
	if choices == nil {
		choices = []string{}
	}
	return e.put("/exams/"+examID+"/answers/"+qid, s.Access, map[string]any{"choices": choices})
}

// eventView is the contract's Event.
type eventView struct {
	EventID    string `json:"event_id"`
	StreamID   string `json:"stream_id"`
	Version    int64  `json:"version"`
	Type       string `json:"type"`
	OccurredAt string `json:"occurred_at"`
	Actor      struct{ ID, Role string }
	Data       map[string]any `json:"data"`
}

type eventList struct {
	Items      []eventView `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

// events lists an audit endpoint (path with its query) as u.
func (e *env) events(path string, u *user) []eventView {
	e.t.Helper()
	var l eventList
	e.get(path, u.Access).want(e.t, http.StatusOK).decode(e.t, &l)
	return l.Items
}

func countTypes(evs []eventView) map[string]int {
	n := map[string]int{}
	for _, ev := range evs {
		n[ev.Type]++
	}
	return n
}

// world is the cast most tests need: two levels, two doctors, students of
// level A and one of level B.
type world struct {
	levelA, levelB  string
	doctor, doctor2 *user
	studentA, other *user // other is a student of level B
	studentA2       *user
}

func (e *env) world() *world {
	e.t.Helper()
	w := &world{levelA: e.createLevel(e.unique("Level A")), levelB: e.createLevel(e.unique("Level B"))}
	w.doctor, w.doctor2 = e.doctor(), e.doctor()
	w.studentA, w.studentA2 = e.student(w.levelA), e.student(w.levelA)
	w.other = e.student(w.levelB)
	return w
}
