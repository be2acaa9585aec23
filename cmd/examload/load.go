package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios Run knows.
const (
	ScenarioAnswers  = "answers"   // PUT /exams/{id}/answers/{qid}, each worker a different student
	ScenarioFetch    = "fetch"     // student GET /exams/{id} (the cached student document)
	ScenarioMixed    = "mixed"     // 90 % answers, 10 % fetches
	ScenarioBarePost = "bare-post" // baseline: gin + HS256 JWT + small JSON POST
	ScenarioBareGet  = "bare-get"  // baseline: gin + precomputed 4 KB JSON GET
)

// Limits that keep every run bounded in time and count.
const (
	MaxDuration = 5 * time.Minute
	// DefaultMaxRequests caps a run's requests even if the clock misbehaves.
	DefaultMaxRequests = 100_000_000
	// requestTimeout bounds any single request.
	requestTimeout = 30 * time.Second
)

// Operation names in Report.Ops.
const (
	OpAnswer   = "answer"
	OpFetch    = "fetch"
	OpBarePost = "bare-post"
	OpBareGet  = "bare-get"
)

// Config is one load run.
type Config struct {
	// Base is the server root, e.g. http://127.0.0.1:8080. Only loopback
	// IP literals are accepted.
	Base        string
	Scenario    string
	Concurrency int
	// Duration of the measured run (at most MaxDuration).
	Duration time.Duration
	// MaxRequests caps the number of requests (0: DefaultMaxRequests).
	MaxRequests int64
	// Fixture is what Setup created: the exam, its questions and the
	// students' tokens (answers, fetch, mixed), or the bare token
	// (bare-post).
	Fixture *Fixture
	// Client is reused across runs (keep-alive); nil builds one.
	Client *http.Client
	// Seed makes the random choices reproducible.
	Seed uint64
	// ErrorSamples is how many error descriptions the report keeps (default 5).
	ErrorSamples int
}

// OpReport is the part of a report about one operation.
type OpReport struct {
	Requests int64 // completed requests (any status)
	OK       int64 // 2xx responses: for answers, acknowledged saves
	Errors   int64 // non-2xx responses and transport errors
	Bytes    int64 // response body bytes of 2xx responses
	Latency  Percentiles
}

// Percentiles of request latency.
type Percentiles struct {
	P50, P90, P99, Max time.Duration
}

// Report is the outcome of a run.
type Report struct {
	Scenario     string
	Concurrency  int
	Elapsed      time.Duration
	Requests     int64
	Errors       int64
	ErrorSamples []string
	ReqPerSec    float64
	Latency      Percentiles
	Ops          map[string]OpReport
}

// Add merges another report of the same scenario into r (benchmarks run
// several slices); percentiles are not merged, Max is.
func (r *Report) Add(o Report) {
	r.Scenario, r.Concurrency = o.Scenario, o.Concurrency
	r.Elapsed += o.Elapsed
	r.Requests += o.Requests
	r.Errors += o.Errors
	for _, s := range o.ErrorSamples {
		if len(r.ErrorSamples) < 5 {
			r.ErrorSamples = append(r.ErrorSamples, s)
		}
	}
	if r.Elapsed > 0 {
		r.ReqPerSec = float64(r.Requests) / r.Elapsed.Seconds()
	}
	r.Latency.Max = max(r.Latency.Max, o.Latency.Max)
	if r.Ops == nil {
		r.Ops = map[string]OpReport{}
	}
	for name, op := range o.Ops {
		cur := r.Ops[name]
		cur.Requests += op.Requests
		cur.OK += op.OK
		cur.Errors += op.Errors
		cur.Bytes += op.Bytes
		cur.Latency.Max = max(cur.Latency.Max, op.Latency.Max)
		r.Ops[name] = cur
	}
}

// String renders the report for people.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s, concurrency %d, %.2fs\n", r.Scenario, r.Concurrency, r.Elapsed.Seconds())
	fmt.Fprintf(&b, "  requests %d, errors %d, %.0f req/s\n", r.Requests, r.Errors, r.ReqPerSec)
	fmt.Fprintf(&b, "  latency p50 %s  p90 %s  p99 %s  max %s\n", fmtDur(r.Latency.P50), fmtDur(r.Latency.P90), fmtDur(r.Latency.P99), fmtDur(r.Latency.Max))
	if len(r.Ops) > 1 {
		for _, name := range []string{OpAnswer, OpFetch, OpBarePost, OpBareGet} {
			op, ok := r.Ops[name]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "  %-9s requests %d, ok %d, errors %d, p50 %s p99 %s\n", name, op.Requests, op.OK, op.Errors, fmtDur(op.Latency.P50), fmtDur(op.Latency.P99))
		}
	}
	for name, op := range r.Ops {
		if op.OK > 0 && (name == OpFetch || name == OpBareGet) {
			fmt.Fprintf(&b, "  %s response body %d bytes on average\n", name, op.Bytes/op.OK)
		}
	}
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(&b, "  error: %s\n", s)
	}
	return b.String()
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
}

// CheckLoopback refuses any base URL whose host is not a loopback IP
// literal: the tool never sends traffic anywhere else.
func CheckLoopback(base string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("base %q: %w", base, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("base %q: only http:// on loopback is supported", base)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("base %q: host must be a loopback address such as 127.0.0.1", base)
	}
	if u.Port() == "" {
		return nil, fmt.Errorf("base %q: needs a port", base)
	}
	return u, nil
}

// NewClient returns a keep-alive client for conns concurrent connections.
// It dials loopback addresses only, never uses a proxy and never follows
// redirects.
func NewClient(conns int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("examload: refusing to dial non-loopback address %s", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        2 * conns,
		MaxIdleConnsPerHost: 2 * conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	// No Client.Timeout: it costs a timer per request. Run bounds requests
	// with its run context, Setup each call with its own.
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run drives the scenario against cfg.Base with cfg.Concurrency workers for
// cfg.Duration. Requests still in flight when the time is up are waited
// for and counted, so every acknowledged answer is in the report. Only a
// cancelled ctx abandons them (they are then not counted).
func Run(ctx context.Context, cfg Config) (Report, error) {
	base, err := CheckLoopback(cfg.Base)
	if err != nil {
		return Report{}, err
	}
	if cfg.Concurrency <= 0 {
		return Report{}, errors.New("concurrency must be at least 1")
	}
	if cfg.Duration <= 0 || cfg.Duration > MaxDuration {
		return Report{}, fmt.Errorf("duration must be in (0, %s]", MaxDuration)
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	if cfg.ErrorSamples <= 0 {
		cfg.ErrorSamples = 5
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(cfg.Concurrency)
	}
	// One timer for the whole run instead of one per request: a request
	// still unanswered requestTimeout after the end fails (as an error).
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration+requestTimeout)
	defer cancel()
	gens, err := generators(runCtx, base, cfg)
	if err != nil {
		return Report{}, err
	}

	var budget atomic.Int64
	budget.Store(cfg.MaxRequests)
	samples := &errorSamples{max: cfg.ErrorSamples}
	stats := make([]*workerStats, cfg.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	for w := range cfg.Concurrency {
		ws := newWorkerStats()
		stats[w] = ws
		gen := gens[w]
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(w)+1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for budget.Add(-1) >= 0 {
				now := time.Now()
				if !now.Before(deadline) || ctx.Err() != nil {
					return
				}
				op, req := gen(rng)
				status, n, sample, err := do(cfg.Client, req, buf)
				lat := time.Since(now)
				if err != nil && ctx.Err() != nil {
					return // abandoned by the caller: not counted
				}
				o := ws.op(op)
				o.requests++
				o.lat.record(lat)
				switch {
				case err != nil:
					o.errors++
					samples.add(fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, err))
				case status < 200 || status > 299:
					o.errors++
					samples.add(fmt.Sprintf("%s %s: %d %s", req.Method, req.URL.Path, status, sample))
				default:
					o.ok++
					o.bytes += n
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	rep := Report{Scenario: cfg.Scenario, Concurrency: cfg.Concurrency, Elapsed: elapsed, Ops: map[string]OpReport{}, ErrorSamples: samples.list}
	all := newHistogram()
	perOp := map[string]*histogram{}
	for _, ws := range stats {
		for name, o := range ws.ops {
			cur := rep.Ops[name]
			cur.Requests += o.requests
			cur.OK += o.ok
			cur.Errors += o.errors
			cur.Bytes += o.bytes
			rep.Ops[name] = cur
			if perOp[name] == nil {
				perOp[name] = newHistogram()
			}
			perOp[name].merge(o.lat)
			all.merge(o.lat)
			rep.Requests += o.requests
			rep.Errors += o.errors
		}
	}
	for name, h := range perOp {
		cur := rep.Ops[name]
		cur.Latency = h.percentiles()
		rep.Ops[name] = cur
	}
	rep.Latency = all.percentiles()
	rep.ReqPerSec = float64(rep.Requests) / elapsed.Seconds()
	return rep, nil
}

// do sends one request and drains the response so the connection is
// reused. On a non-2xx status it returns the start of the body.
func do(c *http.Client, req *http.Request, buf []byte) (status int, n int64, sample string, err error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		k, _ := io.ReadFull(resp.Body, buf)
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, int64(k), strings.TrimSpace(string(buf[:k])), nil
	}
	n, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, n, "", err
}

// generator returns the next request of a worker and its operation name.
type generator func(rng *rand.Rand) (op string, req *http.Request)

// generators builds one request generator per worker. Requests are
// prepared once and copied per call: only the body reader is new.
func generators(ctx context.Context, base *url.URL, cfg Config) ([]generator, error) {
	fx := cfg.Fixture
	gens := make([]generator, cfg.Concurrency)
	switch cfg.Scenario {
	case ScenarioBarePost:
		if fx == nil || fx.BareToken == "" {
			return nil, errors.New("bare-post needs a fixture with the bare token")
		}
		bodies := [][]byte{
			[]byte(`{"question_id":"q01","choices":["b"]}`),
			[]byte(`{"question_id":"q02","choices":["a","c"]}`),
			[]byte(`{"question_id":"q03","choices":["true"]}`),
		}
		for w := range gens {
			tmpl := template(ctx, base, http.MethodPost, "/bare/json", fx.BareToken, true)
			gens[w] = func(rng *rand.Rand) (string, *http.Request) {
				return OpBarePost, withBody(tmpl, bodies[rng.IntN(len(bodies))])
			}
		}
	case ScenarioBareGet:
		for w := range gens {
			tmpl := template(ctx, base, http.MethodGet, "/bare/cached", "", false)
			gens[w] = func(*rand.Rand) (string, *http.Request) { return OpBareGet, copyRequest(tmpl) }
		}
	case ScenarioAnswers, ScenarioFetch, ScenarioMixed:
		if fx == nil || fx.ExamID == "" || len(fx.StudentTokens) == 0 || len(fx.Questions) == 0 {
			return nil, fmt.Errorf("%s needs a fixture (exam, questions, students)", cfg.Scenario)
		}
		for w := range gens {
			token := fx.StudentTokens[w%len(fx.StudentTokens)]
			fetch := template(ctx, base, http.MethodGet, "/api/v1/exams/"+fx.ExamID, token, false)
			answers := make([]*http.Request, len(fx.Questions))
			for i, q := range fx.Questions {
				answers[i] = template(ctx, base, http.MethodPut, "/api/v1/exams/"+fx.ExamID+"/answers/"+url.PathEscape(q.ID), token, true)
			}
			answer := func(rng *rand.Rand) (string, *http.Request) {
				i := rng.IntN(len(fx.Questions))
				bodies := fx.Questions[i].Bodies
				return OpAnswer, withBody(answers[i], bodies[rng.IntN(len(bodies))])
			}
			switch cfg.Scenario {
			case ScenarioAnswers:
				gens[w] = answer
			case ScenarioFetch:
				gens[w] = func(*rand.Rand) (string, *http.Request) { return OpFetch, copyRequest(fetch) }
			default:
				gens[w] = func(rng *rand.Rand) (string, *http.Request) {
					if rng.IntN(10) == 0 {
						return OpFetch, copyRequest(fetch)
					}
					return answer(rng)
				}
			}
		}
	default:
		return nil, fmt.Errorf("unknown scenario %q (answers, fetch, mixed, bare-post, bare-get)", cfg.Scenario)
	}
	return gens, nil
}

// template prepares a request; copies of it share its URL and headers,
// which nothing modifies (each worker sends one request at a time).
func template(ctx context.Context, base *url.URL, method, path, token string, jsonBody bool) *http.Request {
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + path
	u.RawPath = ""
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		panic(err) // the base URL was validated; the paths are ours
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if jsonBody {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return req
}

func copyRequest(tmpl *http.Request) *http.Request {
	r := *tmpl
	return &r
}

func withBody(tmpl *http.Request, body []byte) *http.Request {
	r := *tmpl
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return &r
}

// workerStats is one worker's tally; merged after the run.
type workerStats struct {
	ops  map[string]*opStats
	last *opStats
	name string
}

type opStats struct {
	requests, ok, errors, bytes int64
	lat                         *histogram
}

func newWorkerStats() *workerStats { return &workerStats{ops: map[string]*opStats{}} }

func (w *workerStats) op(name string) *opStats {
	if w.last != nil && w.name == name {
		return w.last
	}
	o := w.ops[name]
	if o == nil {
		o = &opStats{lat: newHistogram()}
		w.ops[name] = o
	}
	w.last, w.name = o, name
	return o
}

type errorSamples struct {
	mu   sync.Mutex
	max  int
	list []string
}

func (e *errorSamples) add(s string) {
	e.mu.Lock()
	if len(e.list) < e.max {
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		e.list = append(e.list, s)
	}
	e.mu.Unlock()
}
