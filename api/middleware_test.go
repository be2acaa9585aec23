package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// --- helpers shared by this package's tests of errors, decode, middleware
// and pagination (prefixed to stay clear of other test files) ---

func apiTestEngine(mw ...gin.HandlerFunc) *gin.Engine {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(mw...)
	return r
}

func apiTestDo(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

type apiTestError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// apiTestErrorBody decodes the contract's error shape strictly.
func apiTestErrorBody(t testing.TB, rec *httptest.ResponseRecorder) apiTestError {
	t.Helper()
	var body struct {
		Error *apiTestError `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Error == nil {
		t.Fatalf("not an error body (%v): %s", err, rec.Body)
	}
	return *body.Error
}

type apiTestLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *apiTestLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *apiTestLogBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (b *apiTestLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *apiTestLogBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// --- tests ---

func TestRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"none", "", false},
		{"sane", "abc-DEF_1.2", true},
		{"64 chars", strings.Repeat("a", 64), true},
		{"65 chars", strings.Repeat("a", 65), false},
		{"space", "abc def", false},
		{"header injection", "abc\r\nX-Evil: 1", false},
		{"unicode", "héllo", false},
		{"slash", "a/b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := apiTestEngine(RequestID())
			var fromGin string
			r.GET("/x", func(c *gin.Context) { fromGin = RequestIDFrom(c) })
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tt.incoming != "" {
				req.Header[http.CanonicalHeaderKey(RequestIDHeader)] = []string{tt.incoming}
			}
			rec := apiTestDo(r, req)
			got := rec.Header().Get(RequestIDHeader)
			if tt.keep && got != tt.incoming {
				t.Fatalf("id = %q, want the incoming %q", got, tt.incoming)
			}
			if !tt.keep && (got == tt.incoming || len(got) != 36) {
				t.Fatalf("id = %q, want a fresh UUID", got)
			}
			if fromGin != got {
				t.Fatalf("context id %q, header %q", fromGin, got)
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	logs := &apiTestLogBuffer{}
	r := apiTestEngine(RequestID(), AccessLog(logs.logger()))
	r.POST("/exams/:id/answers", func(c *gin.Context) {
		c.Set("user_id", "u-42")
		_, _ = io.ReadAll(c.Request.Body)
		c.String(http.StatusCreated, "hello")
	})
	r.GET("/boom", func(c *gin.Context) { c.Status(http.StatusBadGateway) })

	req := httptest.NewRequest(http.MethodPost, "/exams/e1/answers?access_token=SECRET-TOKEN", strings.NewReader(`{"password":"SECRET-PW"}`))
	req.Header.Set(RequestIDHeader, "rid-1")
	apiTestDo(r, req)
	apiTestDo(r, httptest.NewRequest(http.MethodGet, "/boom", nil))
	apiTestDo(r, httptest.NewRequest(http.MethodGet, "/nowhere", nil))

	out := logs.String()
	for _, secret := range []string{"SECRET-TOKEN", "SECRET-PW", "access_token"} {
		if strings.Contains(out, secret) {
			t.Fatalf("access log leaks %q: %s", secret, out)
		}
	}
	lines := logs.lines(t)
	if len(lines) != 3 {
		t.Fatalf("want 3 lines, got %d: %s", len(lines), out)
	}
	first := lines[0]
	want := map[string]any{
		"level": "INFO", "msg": "http request", "method": "POST", "route": "/exams/:id/answers",
		"path": "/exams/e1/answers", "status": 201.0, "bytes": 5.0, "request_id": "rid-1", "user_id": "u-42",
	}
	for k, v := range want {
		if first[k] != v {
			t.Fatalf("%s = %v, want %v (line %v)", k, first[k], v, first)
		}
	}
	if _, ok := first["duration"]; !ok {
		t.Fatal("missing duration")
	}
	if lines[1]["level"] != "WARN" || lines[1]["status"] != 502.0 {
		t.Fatalf("5xx line = %v", lines[1])
	}
	if _, ok := lines[1]["user_id"]; ok {
		t.Fatal("user_id must be omitted when not authenticated")
	}
	if lines[2]["route"] != "unmatched" || lines[2]["status"] != 404.0 {
		t.Fatalf("unmatched line = %v", lines[2])
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	type payload struct {
		S string `json:"s"`
	}
	newEngine := func(mw ...gin.HandlerFunc) *gin.Engine {
		r := apiTestEngine(mw...)
		r.POST("/json", func(c *gin.Context) {
			var p payload
			if err := DecodeJSON(c, &p); err != nil {
				WriteError(c, err)
				return
			}
			c.String(http.StatusOK, "%d", len(p.S))
		})
		r.POST("/raw", func(c *gin.Context) {
			if _, err := io.ReadAll(c.Request.Body); err != nil {
				WriteError(c, err)
				return
			}
			c.Status(http.StatusNoContent)
		})
		return r
	}
	body := func(n int) string { return `{"s":"` + strings.Repeat("x", n-8) + `"}` } // len n

	tests := []struct {
		name    string
		engine  *gin.Engine
		path    string
		size    int
		chunked bool // hide Content-Length
		status  int
	}{
		{"under the limit", newEngine(BodyLimit(100)), "/json", 100, false, 200},
		{"declared too large", newEngine(BodyLimit(100)), "/json", 101, false, 413},
		{"streamed too large to DecodeJSON", newEngine(BodyLimit(100)), "/json", 101, true, 413},
		{"streamed too large to a raw reader", newEngine(BodyLimit(100)), "/raw", 101, true, 413},
		{"streamed within limit", newEngine(BodyLimit(100)), "/raw", 100, true, 204},
		{"default limit without middleware", newEngine(), "/json", 1<<20 + 1, true, 413},
		{"default limit allows 1 MiB", newEngine(), "/json", 1 << 20, false, 200},
		{"later limit raises an earlier one", newEngine(BodyLimit(100), BodyLimit(200)), "/json", 150, true, 200},
		{"later limit lowers an earlier one", newEngine(BodyLimit(200), BodyLimit(100)), "/json", 150, true, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rd io.Reader = strings.NewReader(body(tt.size))
			if tt.chunked {
				rd = io.MultiReader(rd) // httptest cannot see its length
			}
			req := httptest.NewRequest(http.MethodPost, tt.path, rd)
			req.Header.Set("Content-Type", "application/json")
			rec := apiTestDo(tt.engine, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status == 413 {
				if e := apiTestErrorBody(t, rec); e.Code != "payload_too_large" {
					t.Fatalf("code = %q", e.Code)
				}
			}
		})
	}
}

func TestRecovery(t *testing.T) {
	t.Parallel()
	logs := &apiTestLogBuffer{}
	r := apiTestEngine(RequestID(), Recovery(logs.logger()))
	r.GET("/panic", func(c *gin.Context) { panic("kaboom: db password=hunter2") })
	r.GET("/panic-after-write", func(c *gin.Context) {
		c.String(http.StatusOK, "ok")
		panic("late")
	})
	req := httptest.NewRequest(http.MethodGet, "/panic", nil)
	req.Header.Set(RequestIDHeader, "rid-p")
	rec := apiTestDo(r, req)
	if rec.Code != 500 {
		t.Fatalf("status = %d", rec.Code)
	}
	if e := apiTestErrorBody(t, rec); e.Code != "internal" || strings.Contains(rec.Body.String(), "hunter2") {
		t.Fatalf("body = %s", rec.Body)
	}
	lines := logs.lines(t)
	if len(lines) != 1 || lines[0]["level"] != "ERROR" || lines[0]["request_id"] != "rid-p" ||
		!strings.Contains(lines[0]["panic"].(string), "kaboom") || !strings.Contains(lines[0]["stack"].(string), "goroutine") {
		t.Fatalf("log = %v", lines)
	}

	rec = apiTestDo(r, httptest.NewRequest(http.MethodGet, "/panic-after-write", nil))
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Fatalf("after write: %d %q", rec.Code, rec.Body)
	}
}

func TestRecoveryRepanicsAbortHandler(t *testing.T) {
	t.Parallel()
	r := apiTestEngine(Recovery(slog.New(slog.DiscardHandler)))
	r.GET("/abort", func(c *gin.Context) { panic(http.ErrAbortHandler) })
	defer func() {
		if rec := recover(); rec != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", rec)
		}
	}()
	apiTestDo(r, httptest.NewRequest(http.MethodGet, "/abort", nil))
	t.Fatal("no panic")
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	mw, err := Metrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := apiTestEngine(mw)
	r.HandleMethodNotAllowed = true
	r.NoRoute(NotFoundHandler)
	r.NoMethod(MethodNotAllowedHandler)
	r.GET("/exams/:id", func(c *gin.Context) { c.Status(http.StatusOK) })
	for _, id := range []string{"a", "b", "c"} {
		apiTestDo(r, httptest.NewRequest(http.MethodGet, "/exams/"+id, nil))
	}
	apiTestDo(r, httptest.NewRequest(http.MethodGet, "/random/path/1", nil))
	apiTestDo(r, httptest.NewRequest(http.MethodGet, "/random/path/2", nil))
	apiTestDo(r, httptest.NewRequest("BREW", "/exams/a", nil))

	want := map[string]float64{
		"GET /exams/:id 200":  3,
		"GET unmatched 404":   2,
		"OTHER unmatched 405": 1,
	}
	if got := apiTestRequestCounts(t, reg); !reflect.DeepEqual(got, want) {
		t.Fatalf("http_requests_total = %v, want %v", got, want)
	}
	if got := apiTestDurationCounts(t, reg); !reflect.DeepEqual(got, map[string]uint64{"GET /exams/:id": 3, "GET unmatched": 2, "OTHER unmatched": 1}) {
		t.Fatalf("http_request_duration_seconds counts = %v", got)
	}

	// A second engine on the same registry reuses the collectors.
	mw2, err := Metrics(reg)
	if err != nil {
		t.Fatalf("second Metrics on the same registry: %v", err)
	}
	r2 := apiTestEngine(mw2)
	r2.GET("/exams/:id", func(c *gin.Context) { c.Status(http.StatusOK) })
	apiTestDo(r2, httptest.NewRequest(http.MethodGet, "/exams/z", nil))
	if got := apiTestRequestCounts(t, reg)["GET /exams/:id 200"]; got != 4 {
		t.Fatalf("shared counter = %v, want 4", got)
	}

	if _, err := Metrics(nil); err == nil {
		t.Fatal("nil registerer must be an error")
	}
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "http_requests_total", Help: "x"}))
	if _, err := Metrics(clash); err == nil {
		t.Fatal("a clashing collector must be an error")
	}
}

func apiTestFamily(t *testing.T, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("metric %s not found", name)
	return nil
}

func apiTestLabels(m *dto.Metric, names ...string) string {
	vals := make([]string, 0, len(names))
	for _, n := range names {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == n {
				vals = append(vals, lp.GetValue())
			}
		}
	}
	return strings.Join(vals, " ")
}

// apiTestRequestCounts returns http_requests_total by "method route status".
func apiTestRequestCounts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	out := map[string]float64{}
	for _, m := range apiTestFamily(t, reg, "http_requests_total").GetMetric() {
		out[apiTestLabels(m, "method", "route", "status")] = m.GetCounter().GetValue()
	}
	return out
}

// apiTestDurationCounts returns the observation counts of
// http_request_duration_seconds by "method route".
func apiTestDurationCounts(t *testing.T, reg *prometheus.Registry) map[string]uint64 {
	out := map[string]uint64{}
	for _, m := range apiTestFamily(t, reg, "http_request_duration_seconds").GetMetric() {
		out[apiTestLabels(m, "method", "route")] = m.GetHistogram().GetSampleCount()
	}
	return out
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	r := apiTestEngine(SecurityHeaders())
	r.NoRoute(NotFoundHandler)
	r.GET("/x", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{}) })
	for _, path := range []string{"/x", "/missing"} {
		rec := apiTestDo(r, httptest.NewRequest(http.MethodGet, path, nil))
		for k, v := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"X-Frame-Options":        "DENY",
		} {
			if got := rec.Header().Get(k); got != v {
				t.Fatalf("%s %s = %q, want %q", path, k, got, v)
			}
		}
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	t.Parallel()
	r := apiTestEngine()
	r.HandleMethodNotAllowed = true
	r.NoRoute(NotFoundHandler)
	r.NoMethod(MethodNotAllowedHandler)
	r.GET("/exams", func(c *gin.Context) {})

	rec := apiTestDo(r, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if e := apiTestErrorBody(t, rec); rec.Code != 404 || e.Code != "not_found" {
		t.Fatalf("404: %d %+v", rec.Code, e)
	}
	rec = apiTestDo(r, httptest.NewRequest(http.MethodDelete, "/exams", nil))
	if e := apiTestErrorBody(t, rec); rec.Code != 405 || e.Code != "method_not_allowed" {
		t.Fatalf("405: %d %+v", rec.Code, e)
	}
	if rec.Header().Get("Allow") != "GET" {
		t.Fatalf("Allow = %q", rec.Header().Get("Allow"))
	}
}

// With the recommended order, a panicking request is still logged and
// counted as a 500.
func TestRecoveryInsideAccessLogAndMetrics(t *testing.T) {
	t.Parallel()
	logs := &apiTestLogBuffer{}
	reg := prometheus.NewRegistry()
	metrics, err := Metrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := apiTestEngine(RequestID(), AccessLog(logs.logger()), metrics, Recovery(logs.logger()))
	r.GET("/panic", func(c *gin.Context) { panic("boom") })
	rec := apiTestDo(r, httptest.NewRequest(http.MethodGet, "/panic", nil))
	if rec.Code != 500 {
		t.Fatalf("status = %d", rec.Code)
	}
	lines := logs.lines(t)
	if len(lines) != 2 || lines[0]["msg"] != "panic" || lines[1]["msg"] != "http request" || lines[1]["status"] != 500.0 {
		t.Fatalf("logs = %v", lines)
	}
	if got := apiTestRequestCounts(t, reg)["GET /panic 500"]; got != 1 {
		t.Fatalf("counter = %v, want 1", got)
	}
}
