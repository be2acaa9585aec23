package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examhall/exam/deploy/nginxtest"
)

// backend stands in for one examd replica: it counts requests and new
// connections, echoes what nginx sent, and can hang up on POSTs.
type backend struct {
	name     string
	srv      *httptest.Server
	requests atomic.Int64
	writes   atomic.Int64 // POST, PUT, PATCH
	newConns atomic.Int64
	// hangUpWrites: close the connection on a POST, PUT or PATCH without
	// answering (a replica dying mid-request).
	hangUpWrites atomic.Bool
}

// echo is what a backend answers.
type echo struct {
	Backend       string `json:"backend"`
	Method        string `json:"method"`
	Path          string `json:"path"`
	Query         string `json:"query"`
	Host          string `json:"host"`
	RequestID     string `json:"request_id"`
	ForwardedFor  string `json:"forwarded_for"`
	ForwardedProt string `json:"forwarded_proto"`
	Connection    string `json:"connection"`
	Proto         string `json:"proto"`
	BodyBytes     int    `json:"body_bytes"`
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	b.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.newConns.Add(1)
		}
	}
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) addr() string { return strings.TrimPrefix(b.srv.URL, "http://") }

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	b.requests.Add(1)
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		b.writes.Add(1)
		if b.hangUpWrites.Load() {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
	}
	n, _ := io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(echo{
		Backend: b.name, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host,
		RequestID: r.Header.Get("X-Request-Id"), ForwardedFor: r.Header.Get("X-Forwarded-For"),
		ForwardedProt: r.Header.Get("X-Forwarded-Proto"), Connection: r.Header.Get("Connection"),
		Proto: r.Proto, BodyBytes: int(n),
	})
}

// deadAddr is a loopback address nothing listens on (connection refused).
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func addrs(bs ...*backend) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.addr()
	}
	return out
}

var client = &http.Client{
	Timeout:       20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, body []byte, header map[string]string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = nil
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

func (r result) echo(t *testing.T) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal(r.body, &e); err != nil || e.Backend == "" {
		t.Fatalf("not a backend answer (status %d): %s", r.status, r.body)
	}
	return e
}

// apiError checks r is the API's error shape with code and returns it.
func (r result) apiError(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body is not the API error shape: %v: %s", err, r.body)
	}
	if body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("error %+v, want code %q with a message", body.Error, code)
	}
}

func TestNginxConfigIsAccepted(t *testing.T) {
	t.Parallel()
	p := nginxtest.Prepare(t, []string{"127.0.0.1:18080", "127.0.0.1:18081"}, "127.0.0.1:18000", nginxtest.Options{})
	out, err := p.Test(t.Context())
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "test is successful") {
		t.Fatalf("nginx -t output: %s", out)
	}
	// And a broken include is refused, so the check above means something.
	if err := os.WriteFile(p.ConfDir+"/upstreams.conf", []byte("server ;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := p.Test(t.Context()); err == nil {
		t.Fatalf("nginx -t accepted an invalid upstreams.conf: %s", out)
	}
}

func TestNginxSpreadsRequestsOverReplicasWithKeepalive(t *testing.T) {
	t.Parallel()
	a, b := newBackend(t, "a"), newBackend(t, "b")
	p := nginxtest.Start(t, addrs(a, b), nginxtest.Options{})
	const n = 100
	for i := range n {
		r := do(t, http.MethodGet, fmt.Sprintf("%s/api/v1/exams?i=%d", p.URL, i), nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %d: status %d: %s", i, r.status, r.body)
		}
	}
	if a.requests.Load() < n/4 || b.requests.Load() < n/4 {
		t.Fatalf("requests a=%d b=%d, want both at least %d", a.requests.Load(), b.requests.Load(), n/4)
	}
	// HTTP/1.1 with keepalive: connections are reused, not one per request.
	if c := a.newConns.Load() + b.newConns.Load(); c > n/5 {
		t.Fatalf("%d upstream connections for %d requests: keepalive to the replicas is not working", c, n)
	}
}

func TestNginxPassesRequestHeaders(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a")
	p := nginxtest.Start(t, addrs(a), nginxtest.Options{})

	e := do(t, http.MethodGet, p.URL+"/api/v1/exams?status=open", nil,
		map[string]string{"X-Request-Id": "client-id_1.2", "X-Forwarded-For": "6.6.6.6"}).echo(t)
	if e.RequestID != "client-id_1.2" {
		t.Errorf("X-Request-Id %q, want the client's", e.RequestID)
	}
	if e.ForwardedFor != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want only the client's address (a client must not forge it)", e.ForwardedFor)
	}
	if e.ForwardedProt != "http" || e.Proto != "HTTP/1.1" || e.Query != "status=open" || e.Path != "/api/v1/exams" {
		t.Errorf("echo %+v", e)
	}
	if host := strings.TrimPrefix(p.URL, "http://"); e.Host != host {
		t.Errorf("Host %q, want the client's %q", e.Host, host)
	}

	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, sent := range []string{"", "has spaces and ünïcode", strings.Repeat("x", 65)} {
		h := map[string]string{}
		if sent != "" {
			h["X-Request-Id"] = sent
		}
		if e := do(t, http.MethodGet, p.URL+"/api/v1/exams", nil, h).echo(t); !generated.MatchString(e.RequestID) {
			t.Errorf("client sent %q: X-Request-Id %q, want one generated by nginx", sent, e.RequestID)
		}
	}
}

func TestNginxKeepsServingWhenAReplicaDies(t *testing.T) {
	t.Parallel()
	a, b := newBackend(t, "a"), newBackend(t, "b")
	dead := deadAddr(t) // down from the start
	p := nginxtest.Start(t, append(addrs(a, b), dead), nginxtest.Options{})

	const n, workers = 200, 4
	var sent, failed atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent.Add(1) <= n {
				if sent.Load() > n/4 {
					once.Do(a.srv.Close) // killed mid-run
				}
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, p.URL+"/api/v1/exams", nil)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d GETs failed while one replica was down and another was killed", f, n)
	}
	if a.requests.Load() == 0 || b.requests.Load() == 0 {
		t.Fatalf("requests a=%d b=%d: both live replicas should have served some", a.requests.Load(), b.requests.Load())
	}
}

// TestNginxRetriesPostOnlyWithIdempotencyKey: both replicas hang up on
// writes, so the number of writes they saw is the number of tries nginx made.
func TestNginxRetriesPostOnlyWithIdempotencyKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		method string
		path   string
		header map[string]string
		tries  int64
	}{
		{name: "POST without key is not replayed", method: http.MethodPost, path: "/api/v1/exams", tries: 1},
		{name: "POST with key is replayed", method: http.MethodPost, path: "/api/v1/exams", header: map[string]string{"Idempotency-Key": "k-1"}, tries: 2},
		{name: "image upload with key is replayed", method: http.MethodPost, path: "/api/v1/images", header: map[string]string{"Idempotency-Key": "k-2"}, tries: 2},
		{name: "results import without key is not replayed", method: http.MethodPost, path: "/api/v1/exams/e1/results/import", tries: 1},
		{name: "results import with key is replayed", method: http.MethodPost, path: "/api/v1/exams/e1/results/import", header: map[string]string{"Idempotency-Key": "k-4"}, tries: 2},
		{name: "PATCH without key is not replayed", method: http.MethodPatch, path: "/api/v1/users/u1", tries: 1},
		{name: "PATCH with key is replayed", method: http.MethodPatch, path: "/api/v1/users/u1", header: map[string]string{"Idempotency-Key": "k-5"}, tries: 2},
		{name: "PUT is replayed (idempotent)", method: http.MethodPut, path: "/api/v1/exams/e1/answers/q1", tries: 2},
		{name: "admin form without key is not replayed", method: http.MethodPost, path: "/admin/exams", tries: 1},
		{name: "admin form with key is replayed", method: http.MethodPost, path: "/admin/exams", header: map[string]string{"Idempotency-Key": "k-3"}, tries: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := newBackend(t, "a"), newBackend(t, "b")
			a.hangUpWrites.Store(true)
			b.hangUpWrites.Store(true)
			p := nginxtest.Start(t, addrs(a, b), nginxtest.Options{})
			r := do(t, tc.method, p.URL+tc.path, []byte(`{"title":"x"}`), tc.header)
			r.apiError(t, http.StatusBadGateway, "unavailable")
			if r.header.Get("Retry-After") == "" || r.header.Get("X-Request-Id") == "" {
				t.Errorf("headers %v, want Retry-After and X-Request-Id", r.header)
			}
			if got := a.writes.Load() + b.writes.Load(); got != tc.tries {
				t.Fatalf("replicas saw %d tries (a=%d b=%d), want %d", got, a.writes.Load(), b.writes.Load(), tc.tries)
			}
		})
	}

	t.Run("POST with key succeeds on the other replica", func(t *testing.T) {
		t.Parallel()
		a, b := newBackend(t, "a"), newBackend(t, "b")
		a.hangUpWrites.Store(true)
		p := nginxtest.Start(t, addrs(a, b), nginxtest.Options{})
		body := []byte(`{"title":"Midterm"}`)
		// Round robin sends one of the first two tries to a.
		for i := 0; a.writes.Load() == 0; i++ {
			if i == 10 {
				t.Fatal("nginx never tried replica a")
			}
			r := do(t, http.MethodPost, p.URL+"/api/v1/exams", body, map[string]string{"Idempotency-Key": fmt.Sprint("key-", i)})
			if r.status != http.StatusOK {
				t.Fatalf("POST %d: status %d: %s", i, r.status, r.body)
			}
			if e := r.echo(t); e.Backend != "b" || e.BodyBytes != len(body) {
				t.Fatalf("answer %+v, want b with the whole body", e)
			}
		}
	})
}

func TestNginxBodyLimits(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a")
	p := nginxtest.Start(t, addrs(a), nginxtest.Options{})
	const kib, mib = 1 << 10, 1 << 20
	for _, tc := range []struct {
		path string
		size int
		ok   bool
	}{
		{"/api/v1/exams", mib, true},
		{"/api/v1/exams", mib + 1, false},
		{"/api/v1/images", 2*mib + 64*kib, true},
		{"/api/v1/images", 2*mib + 64*kib + 1, false},
		{"/api/v1/exams/e1/results/import", 5*mib + 64*kib, true},
		{"/api/v1/exams/e1/results/import", 5*mib + 64*kib + 1, false},
		{"/admin/exams/e1/results/import", 5*mib + 64*kib, true},
		{"/api/v1/users/import", 5*mib + 64*kib, true},
		{"/api/v1/users/import", 5*mib + 64*kib + 1, false},
		{"/api/v1/exams/e1/questions/import", 8*mib + 64*kib, true},
		{"/api/v1/exams/e1/questions/import", 8*mib + 64*kib + 1, false},
	} {
		before := a.requests.Load()
		// With a key too: the twin location must not loosen the limit.
		for _, h := range []map[string]string{nil, {"Idempotency-Key": "k"}} {
			r := do(t, http.MethodPost, p.URL+tc.path, make([]byte, tc.size), h)
			if tc.ok {
				if r.status != http.StatusOK || r.echo(t).BodyBytes != tc.size {
					t.Errorf("POST %s with %d bytes (%v): status %d, want it passed whole", tc.path, tc.size, h, r.status)
				}
				continue
			}
			r.apiError(t, http.StatusRequestEntityTooLarge, "payload_too_large")
		}
		if !tc.ok && a.requests.Load() != before {
			t.Errorf("POST %s with %d bytes reached the replica", tc.path, tc.size)
		}
	}
}

func TestNginxAllReplicasDown(t *testing.T) {
	t.Parallel()
	p := nginxtest.Start(t, []string{deadAddr(t), deadAddr(t)}, nginxtest.Options{})
	for _, path := range []string{"/api/v1/exams", "/admin/", "/healthz"} {
		r := do(t, http.MethodGet, p.URL+path, nil, map[string]string{"X-Request-Id": "req-down"})
		r.apiError(t, http.StatusBadGateway, "unavailable")
		if r.header.Get("X-Request-Id") != "req-down" {
			t.Errorf("X-Request-Id %q on nginx's own error", r.header.Get("X-Request-Id"))
		}
		if s := r.header.Get("Server"); s != "nginx" {
			t.Errorf("Server header %q, want bare nginx (server_tokens off)", s)
		}
	}
}

func TestNginxRoutes(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a")
	p := nginxtest.Start(t, addrs(a), nginxtest.Options{})

	for _, path := range []string{"/", "/admin"} {
		r := do(t, http.MethodGet, p.URL+path, nil, nil)
		if r.status != http.StatusFound || r.header.Get("Location") != "/admin/" {
			t.Errorf("GET %s: %d Location %q, want 302 to /admin/", path, r.status, r.header.Get("Location"))
		}
	}
	if r := do(t, http.MethodGet, p.URL+"/exam", nil, nil); r.status != http.StatusFound || r.header.Get("Location") != "/exam/" {
		t.Errorf("GET /exam: %d Location %q, want 302 to /exam/", r.status, r.header.Get("Location"))
	}
	for _, path := range []string{"/admin/", "/exam/", "/exam/room.js", "/healthz", "/readyz", "/api/v1/openapi.json"} {
		if e := do(t, http.MethodGet, p.URL+path, nil, nil).echo(t); e.Path != path {
			t.Errorf("GET %s reached the replica as %s", path, e.Path)
		}
	}
	before := a.requests.Load()
	for _, path := range []string{"/metrics", "/etc/passwd", "/apix"} {
		do(t, http.MethodGet, p.URL+path, nil, nil).apiError(t, http.StatusNotFound, "not_found")
	}
	if a.requests.Load() != before {
		t.Error("a path that is not public reached the replica")
	}
}

func TestNginxAccessLogIsJSONWithoutBodies(t *testing.T) {
	t.Parallel()
	a := newBackend(t, "a")
	p := nginxtest.Start(t, addrs(a), nginxtest.Options{})
	do(t, http.MethodPost, p.URL+"/api/v1/auth/login?token=query-secret", []byte(`{"password":"body-secret"}`),
		map[string]string{"X-Request-Id": "log-me", "Authorization": "Bearer header-secret"})

	// nginx writes the line after the response: wait for it.
	var line map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for line == nil {
		raw, err := os.ReadFile(p.AccessLog)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"body-secret", "query-secret", "header-secret"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Fatalf("access log contains %q:\n%s", secret, raw)
			}
		}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("access log line is not JSON: %v: %s", err, sc.Bytes())
			}
			if m["request_id"] == "log-me" {
				line = m
			}
		}
		if line == nil && time.Now().After(deadline) {
			t.Fatalf("no access log line for the request:\n%s", raw)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if line["method"] != "POST" || line["path"] != "/api/v1/auth/login" || line["status"] != float64(200) ||
		line["upstream_addr"] != a.addr() {
		t.Fatalf("access log line %v", line)
	}
}

// The helper itself must fail, not skip, when nginx is missing.
func TestBinaryMissingIsAnError(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	bin, err := nginxtest.Binary()
	if _, statErr := os.Stat("/usr/sbin/nginx"); statErr == nil {
		if err != nil || bin != "/usr/sbin/nginx" {
			t.Fatalf("Binary() = %q, %v; want /usr/sbin/nginx", bin, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "scripts/ensure-nginx.sh") {
		t.Fatalf("Binary() = %q, %v; want an error naming scripts/ensure-nginx.sh", bin, err)
	}
}

// A replica's own error answers reach the client as they are: a 4xx is
// neither retried nor rewritten, and when every replica answers 503 the
// client gets the API's body (its details and Retry-After), not nginx's.
func TestNginxPassesReplicaErrorsThrough(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := func(status int, body string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}))
		t.Cleanup(s.Close)
		return s
	}
	const notFound = `{"error":{"code":"not_found","message":"resource not found","details":{"from":"replica"}}}`
	const unavailable = `{"error":{"code":"unavailable","message":"the service is temporarily unavailable, retry later","details":{"from":"replica"}}}`
	for _, tc := range []struct {
		status int
		body   string
		tries  int64
	}{
		{http.StatusNotFound, notFound, 1},
		{http.StatusServiceUnavailable, unavailable, 2},
	} {
		calls.Store(0)
		a, b := srv(tc.status, tc.body), srv(tc.status, tc.body)
		p := nginxtest.Start(t, []string{strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")}, nginxtest.Options{})
		r := do(t, http.MethodGet, p.URL+"/api/v1/exams/x", nil, nil)
		if r.status != tc.status || string(r.body) != tc.body || r.header.Get("Retry-After") != "7" {
			t.Errorf("status %d body %s Retry-After %q; want the replica's %d %s", r.status, r.body, r.header.Get("Retry-After"), tc.status, tc.body)
		}
		if got := calls.Load(); got != tc.tries {
			t.Errorf("status %d: %d tries, want %d", tc.status, got, tc.tries)
		}
	}
}
