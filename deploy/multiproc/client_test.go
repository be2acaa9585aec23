package multiproc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// client talks to one deployment's API (nginx, or an embedded examd). It
// never retries: a request that fails is a failure. Every write carries an
// Idempotency-Key unique to the logical request.
type client struct {
	name  string
	base  string // e.g. http://127.0.0.1:8000/api/v1
	hc    *http.Client
	keys  atomic.Int64
	runID string

	mu       sync.Mutex
	failures []string
	rec      *recorder
}

func newClient(name, baseURL, runID string) *client {
	tr := &http.Transport{
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &client{name: name, base: baseURL + "/api/v1", runID: runID, hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// key returns a fresh Idempotency-Key.
func (c *client) key() string { return fmt.Sprintf("%s-%s-%d", c.name, c.runID, c.keys.Add(1)) }

// response is a whole HTTP answer, or the transport error.
type response struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
	err          error
	took         time.Duration
	// conns counts the connections the request was written to; above one,
	// net/http retried it on its own (a client-side retry).
	conns int
}

func (r *response) ok() bool {
	return r.err == nil && r.status >= 200 && r.status < 300 && r.conns <= 1
}

// admissionRefusal is the login admission turning a login away with a
// Retry-After (API.md): by design when a crowd logs in at once, and retried
// by login, which counts a login still refused as the failure.
func (r *response) admissionRefusal() bool {
	return r.err == nil && r.status == http.StatusTooManyRequests && r.path == "/auth/login" && r.header.Get("Retry-After") != ""
}

func (r *response) String() string {
	if r.err != nil {
		return fmt.Sprintf("%s %s: %v (after %s)", r.method, r.path, r.err, r.took)
	}
	body := string(r.body)
	if len(body) > 400 {
		body = body[:400] + "…"
	}
	retried := ""
	if r.conns > 1 {
		retried = fmt.Sprintf(" [net/http retried it on %d connections]", r.conns)
	}
	return fmt.Sprintf("%s %s -> %d %s%s", r.method, r.path, r.status, body, retried)
}

func (r *response) decode(v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("decode %s: %w", r, err)
	}
	return nil
}

// send performs one request. Writes (anything but GET) get an
// Idempotency-Key. counted requests go to the current recorder.
func (c *client) send(method, path, token string, body any) *response {
	r := &response{method: method, path: path}
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			r.err = err
			return r
		}
		rd = bytes.NewReader(buf)
	}
	var conns atomic.Int32
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteHeaders: func() { conns.Add(1) },
	})
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		r.err = err
		return r
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method != http.MethodGet {
		req.Header.Set("Idempotency-Key", c.key())
	}
	start := time.Now()
	res, err := c.hc.Do(req)
	if err == nil {
		r.body, err = io.ReadAll(res.Body)
		res.Body.Close()
		r.status, r.header = res.StatusCode, res.Header
	}
	r.err = err
	r.took = time.Since(start)
	r.conns = int(conns.Load())
	c.mu.Lock()
	rec := c.rec
	c.mu.Unlock()
	if rec != nil {
		rec.add(r)
	}
	return r
}

// do is send for a request that must succeed: anything else is recorded as
// a failure (and returned, so the caller can stop).
func (c *client) do(method, path, token string, body any) (*response, error) {
	r := c.send(method, path, token, body)
	if !r.ok() {
		c.fail(r.String())
		return r, fmt.Errorf("%s: %s", c.name, r)
	}
	return r, nil
}

// poll is send for a read that may legitimately answer one of the allowed
// statuses while something is not there yet; other non-2xx answers and
// transport errors are failures.
func (c *client) poll(path, token string, allowed ...int) *response {
	r := c.send(http.MethodGet, path, token, nil)
	if r.ok() || (r.err == nil && slices.Contains(allowed, r.status) && r.conns <= 1) {
		return r
	}
	c.fail(r.String())
	return r
}

func (c *client) fail(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures = append(c.failures, s)
}

// failed returns the failures so far.
func (c *client) failed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.failures)
}

// record makes every request from now on count into a new recorder.
func (c *client) record() *recorder {
	rec := &recorder{start: time.Now()}
	c.mu.Lock()
	c.rec = rec
	c.mu.Unlock()
	return rec
}

// stopRecording ends the current recorder.
func (c *client) stopRecording() {
	c.mu.Lock()
	if c.rec != nil {
		c.rec.stopAt(time.Now())
	}
	c.rec = nil
	c.mu.Unlock()
}

// recorder collects request latencies over a phase.
type recorder struct {
	mu       sync.Mutex
	start    time.Time
	end      time.Time
	lat      []time.Duration
	began    []time.Time // when each request of lat was sent
	failures int
	byStatus map[int]int
}

func (r *recorder) add(res *response) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lat = append(r.lat, res.took)
	r.began = append(r.began, time.Now().Add(-res.took))
	if !res.ok() && !res.admissionRefusal() {
		r.failures++
	}
	if r.byStatus == nil {
		r.byStatus = map[int]int{}
	}
	r.byStatus[res.status]++
}

func (r *recorder) stopAt(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.end = t
}

// summary is a phase's numbers.
type summary struct {
	requests      int
	failures      int
	wall          time.Duration
	rate          float64
	p50, p99, max time.Duration
	statuses      string
}

func (r *recorder) summary() summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := summary{requests: len(r.lat), failures: r.failures, wall: r.end.Sub(r.start)}
	if s.wall > 0 {
		s.rate = float64(s.requests) / s.wall.Seconds()
	}
	lat := slices.Clone(r.lat)
	slices.Sort(lat)
	s.p50, s.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	if len(lat) > 0 {
		s.max = lat[len(lat)-1]
	}
	var codes []int
	for code := range r.byStatus {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	var parts []string
	for _, code := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", r.byStatus[code], code))
	}
	s.statuses = strings.Join(parts, " ")
	return s
}

// window is the summary of the requests in flight at t or sent within d
// after it (its wall and rate are not set).
func (r *recorder) window(t time.Time, d time.Duration) summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	var lat []time.Duration
	for i, b := range r.began {
		if b.Before(t.Add(d)) && b.Add(r.lat[i]).After(t) {
			lat = append(lat, r.lat[i])
		}
	}
	slices.Sort(lat)
	s := summary{requests: len(lat), p50: percentile(lat, 0.50), p99: percentile(lat, 0.99)}
	if len(lat) > 0 {
		s.max = lat[len(lat)-1]
	}
	return s
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// --- API shapes ---------------------------------------------------------

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	User        struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Role  string `json:"role"`
	} `json:"user"`
}

type examQuestion struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	Choices []choice `json:"choices"`
	Correct []string `json:"correct,omitempty"`
}

type choice struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

type examView struct {
	ID        string            `json:"id"`
	Status    string            `json:"status"`
	Questions []json.RawMessage `json:"questions"`
}

type attemptView struct {
	Status  string              `json:"status"`
	Answers map[string][]string `json:"answers"`
}

type resultRow struct {
	StudentID string  `json:"student_id"`
	Email     string  `json:"email"`
	Score     float64 `json:"score"`
	MaxScore  float64 `json:"max_score"`
	Answered  int     `json:"answered"`
	GradedAt  *string `json:"graded_at"`
}

type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

type userRow struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

type eventRow struct {
	Type string `json:"type"`
	Data struct {
		StudentID  string   `json:"student_id"`
		QuestionID string   `json:"question_id"`
		Choices    []string `json:"choices"`
	} `json:"data"`
}
