package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/cmd/platform"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// The HTTP benchmarks start their server in this process on 127.0.0.1:0 and
// drive it with Run, the same load function the command uses, at the same
// concurrency, for a fixed slice of time per b.Loop iteration. They report
// req/s (and ns/op as the time per request, 1/throughput), the process CPU
// time per request (cpu-us/op: load tool and server together, the figure
// least disturbed by other work on the machine) and the cores used. Compare
// BenchmarkAnswerSave with BenchmarkBarePost and BenchmarkStudentExamFetch
// with BenchmarkBareCachedGet from the same run.
//
//	go test -run '^$' -bench . -benchtime 5s ./cmd/examload
//
// EXAMLOAD_BENCH_CONCURRENCY (default 64) and EXAMLOAD_BENCH_SLICE (default
// 1s) tune them. The platform logs nothing unless EXAMLOAD_BENCH_ACCESS_LOG
// is set: then it logs as examd does by default (JSON at info, a line per
// request), to a file.

const (
	adminEmail    = "admin@examload.test"
	adminPassword = "examload-admin-pass"
)

func benchConcurrency() int {
	if n, err := strconv.Atoi(os.Getenv("EXAMLOAD_BENCH_CONCURRENCY")); err == nil && n > 0 && n <= 4096 {
		return n
	}
	return 64
}

func benchSlice() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("EXAMLOAD_BENCH_SLICE")); err == nil && d > 0 && d <= time.Minute {
		return d
	}
	return time.Second
}

// startPlatform opens a real embedded platform (durable store, fsync on) in
// a temp dir and serves it on 127.0.0.1:0.
func startPlatform(tb testing.TB) (*platform.Platform, string) {
	tb.Helper()
	cfg := platform.Defaults()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.DataDir = tb.TempDir()
	cfg.AdminEmail, cfg.AdminPassword = adminEmail, adminPassword
	cfg.Argon2 = auth.TestArgon2Params()
	cfg.Logger = slog.New(slog.DiscardHandler)
	if os.Getenv("EXAMLOAD_BENCH_ACCESS_LOG") != "" {
		// As examd logs by default: JSON at info, one line per request,
		// here to a file.
		f, err := os.Create(filepath.Join(tb.TempDir(), "examd.log"))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = f.Close() })
		cfg.Logger = slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	p, err := platform.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	base, stop, err := serveLoopback("127.0.0.1:0", p.Handler)
	if err != nil {
		_ = p.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stop()
		if err := p.Close(); err != nil {
			tb.Error(err)
		}
	})
	return p, base
}

func setupPlatform(tb testing.TB, students int) (*platform.Platform, string, *Fixture) {
	tb.Helper()
	p, base := startPlatform(tb)
	c := NewClient(students)
	defer c.CloseIdleConnections()
	fx, err := Setup(context.Background(), c, base, SetupConfig{
		AdminEmail: adminEmail, AdminPassword: adminPassword, Students: students, Questions: 10, DocBytes: 4096,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return p, base, fx
}

func startBareForTest(tb testing.TB) (string, *Fixture) {
	tb.Helper()
	base, token, stop, err := startBare("127.0.0.1:0", nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return base, &Fixture{BareToken: token}
}

// benchLoad warms up for one slice, then runs one slice per b.Loop
// iteration and reports the totals.
func benchLoad(b *testing.B, base, scenario string, fx *Fixture) {
	conc := benchConcurrency()
	client := NewClient(conc)
	defer client.CloseIdleConnections()
	cfg := Config{Base: base, Scenario: scenario, Concurrency: conc, Duration: benchSlice(), Fixture: fx, Client: client, Seed: 7}
	ctx := context.Background()
	if _, err := Run(ctx, cfg); err != nil { // warm-up: connections, caches
		b.Fatal(err)
	}
	var total Report
	cpu0 := processCPU()
	b.ResetTimer()
	for b.Loop() {
		rep, err := Run(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		total.Add(rep)
	}
	b.StopTimer()
	cpu := processCPU() - cpu0
	if total.Errors > 0 {
		b.Fatalf("%d errors of %d requests: %v", total.Errors, total.Requests, total.ErrorSamples)
	}
	if total.Requests == 0 {
		b.Fatal("no requests")
	}
	b.ReportMetric(total.ReqPerSec, "req/s")
	b.ReportMetric(float64(total.Elapsed.Nanoseconds())/float64(total.Requests), "ns/op")
	if cpu > 0 {
		// CPU per request of the whole process (load tool + server): less
		// sensitive than req/s to other work on the machine.
		b.ReportMetric(float64(cpu.Microseconds())/float64(total.Requests), "cpu-us/op")
		b.ReportMetric(cpu.Seconds()/total.Elapsed.Seconds(), "cores")
	}
	b.Logf("%s: %d requests in %s, %.0f req/s, max latency %s", scenario, total.Requests, total.Elapsed.Round(time.Millisecond), total.ReqPerSec, total.Latency.Max)
}

func BenchmarkBarePost(b *testing.B) {
	base, fx := startBareForTest(b)
	benchLoad(b, base, ScenarioBarePost, fx)
}

func BenchmarkAnswerSave(b *testing.B) {
	_, base, fx := setupPlatform(b, benchConcurrency())
	benchLoad(b, base, ScenarioAnswers, fx)
}

func BenchmarkBareCachedGet(b *testing.B) {
	base, fx := startBareForTest(b)
	benchLoad(b, base, ScenarioBareGet, fx)
}

func BenchmarkStudentExamFetch(b *testing.B) {
	_, base, fx := setupPlatform(b, benchConcurrency())
	benchLoad(b, base, ScenarioFetch, fx)
}

// TestLoadToolAgainstPlatform runs the tool briefly against a real
// platform and checks it against the event store: no errors, and every
// answer the platform acknowledged is an attempt.answer_saved.v1 event.
func TestLoadToolAgainstPlatform(t *testing.T) {
	const students = 4
	p, base, fx := setupPlatform(t, students)
	if fx.DocBytes < 3500 || fx.DocBytes > 4700 {
		t.Errorf("student document is %d bytes, want about 4 KB", fx.DocBytes)
	}
	if len(fx.StudentTokens) != students || len(fx.Questions) != 10 {
		t.Fatalf("fixture: %d students, %d questions", len(fx.StudentTokens), len(fx.Questions))
	}
	client := NewClient(students)
	defer client.CloseIdleConnections()
	ctx := context.Background()

	var acked int64
	for _, scenario := range []string{ScenarioAnswers, ScenarioMixed, ScenarioFetch} {
		rep, err := Run(ctx, Config{Base: base, Scenario: scenario, Concurrency: students, Duration: 400 * time.Millisecond, Fixture: fx, Client: client, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s", rep)
		if rep.Errors != 0 || rep.Requests == 0 {
			t.Fatalf("%s: %d requests, %d errors: %v", scenario, rep.Requests, rep.Errors, rep.ErrorSamples)
		}
		if rep.Latency.P50 <= 0 || rep.Latency.P50 > rep.Latency.Max {
			t.Errorf("%s: bad latency percentiles %+v", scenario, rep.Latency)
		}
		acked += rep.Ops[OpAnswer].OK
		if f := rep.Ops[OpFetch]; f.OK > 0 && f.Bytes/f.OK != int64(fx.DocBytes) {
			t.Errorf("%s: fetched %d bytes on average, want %d", scenario, f.Bytes/f.OK, fx.DocBytes)
		}
		switch scenario {
		case ScenarioAnswers:
			if rep.Ops[OpAnswer].OK == 0 || rep.Ops[OpFetch].Requests != 0 {
				t.Errorf("answers: ops %+v", rep.Ops)
			}
		case ScenarioFetch:
			if rep.Ops[OpFetch].OK == 0 || rep.Ops[OpAnswer].Requests != 0 {
				t.Errorf("fetch: ops %+v", rep.Ops)
			}
		case ScenarioMixed:
			if rep.Ops[OpFetch].OK == 0 || rep.Ops[OpAnswer].OK < rep.Ops[OpFetch].OK {
				t.Errorf("mixed: ops %+v", rep.Ops)
			}
		}
	}

	// Every acknowledged save is durable: count the answer events of the exam.
	var stored int64
	students_ := map[string]bool{}
	var after uint64
	for range 100_000 {
		recs, err := p.Store.Query(ctx, eventstore.Filter{Tags: []string{domain.ExamTag(fx.ExamID)}, Type: domain.TypeAnswerSaved, AfterPosition: after, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			stored++
			students_[r.ActorID] = true
		}
		after = recs[len(recs)-1].Position
	}
	if stored != acked {
		t.Errorf("the platform acknowledged %d answers, the store holds %d answer_saved events", acked, stored)
	}
	if len(students_) != students {
		t.Errorf("answers came from %d students, want %d (one per worker)", len(students_), students)
	}
	t.Logf("%d acknowledged answers, %d stored", acked, stored)
}

func TestBareScenarios(t *testing.T) {
	base, fx := startBareForTest(t)
	for _, scenario := range []string{ScenarioBarePost, ScenarioBareGet} {
		rep, err := Run(context.Background(), Config{Base: base, Scenario: scenario, Concurrency: 4, Duration: 200 * time.Millisecond, Fixture: fx})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors != 0 || rep.Requests == 0 {
			t.Fatalf("%s: %d requests, %d errors: %v", scenario, rep.Requests, rep.Errors, rep.ErrorSamples)
		}
		if scenario == ScenarioBareGet {
			if op := rep.Ops[OpBareGet]; op.Bytes/op.OK != 4096 {
				t.Errorf("bare document is %d bytes, want 4096", op.Bytes/op.OK)
			}
		}
	}
	// A bad token is refused, and counted as an error.
	rep, err := Run(context.Background(), Config{Base: base, Scenario: ScenarioBarePost, Concurrency: 1, Duration: 50 * time.Millisecond,
		MaxRequests: 3, Fixture: &Fixture{BareToken: "not-a-token"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 3 || rep.Errors != 3 || len(rep.ErrorSamples) != 3 {
		t.Errorf("bad token: %d requests, %d errors, samples %v", rep.Requests, rep.Errors, rep.ErrorSamples)
	}
}

func TestOnlyLoopback(t *testing.T) {
	for _, base := range []string{"http://10.0.0.1:8080", "http://example.com:80", "http://localhost:8080", "https://127.0.0.1:8080", "http://127.0.0.1", "http://0.0.0.0:8080"} {
		if _, err := CheckLoopback(base); err == nil {
			t.Errorf("CheckLoopback(%q) accepted it", base)
		}
		if _, err := Run(context.Background(), Config{Base: base, Scenario: ScenarioBareGet, Concurrency: 1, Duration: time.Millisecond}); err == nil {
			t.Errorf("Run(%q) accepted it", base)
		}
	}
	for _, base := range []string{"http://127.0.0.1:8080", "http://[::1]:8080", "http://127.0.0.2:1"} {
		if _, err := CheckLoopback(base); err != nil {
			t.Errorf("CheckLoopback(%q): %v", base, err)
		}
	}
	if _, _, err := serveLoopback("0.0.0.0:0", nil); err == nil {
		t.Error("serveLoopback listened on 0.0.0.0")
	}
	if _, err := NewClient(1).Get("http://192.0.2.1:80/"); err == nil {
		t.Error("the client dialled a non-loopback address")
	}
}

func TestHistogram(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	p := h.percentiles()
	near := func(got time.Duration, want time.Duration) bool {
		d := float64(got - want)
		return d >= -0.02*float64(want) && d <= 0.02*float64(want)
	}
	if !near(p.P50, 500*time.Microsecond) || !near(p.P90, 900*time.Microsecond) || !near(p.P99, 990*time.Microsecond) || p.Max != time.Millisecond {
		t.Errorf("percentiles %+v", p)
	}
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1 << 40, 1<<63 + 12345} {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("index %d of %d out of range", i, v)
		}
		if mid := histValue(i); float64(mid) < float64(v)*0.98 || float64(mid) > float64(v)*1.02+1 {
			t.Errorf("bucket of %d has middle %d", v, mid)
		}
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "6m"}, {"-base", "http://10.1.2.3:8080"}, {"-concurrency", "0"}, {"extra"},
		{"-bare-base", "http://192.0.2.7:80"}, {"-bare", "-bare-base", "http://127.0.0.1:1"}, {"-serve-for", "2h"},
	} {
		if _, err := parseFlags(args, testWriter{t}); err == nil {
			t.Errorf("parseFlags(%q) accepted it", args)
		}
	}
	o, err := parseFlags([]string{"-concurrency", "8"}, testWriter{t})
	if err != nil || o.students != 8 || o.duration != 10*time.Second {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if err := run([]string{"-scenario", "bare-get", "-duration", "10ms"}, testWriter{t}, testWriter{t}); err == nil {
		t.Error("bare-get without -bare ran")
	}
	if err := run([]string{"-scenario", "bare-get", "-bare", "-duration", "100ms", "-warmup", "0", "-concurrency", "2"}, testWriter{t}, testWriter{t}); err != nil {
		t.Errorf("bare-get: %v", err)
	}
	// A bare server of another examload, found by -bare-base, accepts the
	// tokens signed with the shared secret.
	base, _, stop, err := startBare("127.0.0.1:0", []byte(DefaultBareSecret))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := run([]string{"-scenario", "bare-post", "-bare-base", base, "-duration", "100ms", "-warmup", "0", "-concurrency", "2"}, testWriter{t}, testWriter{t}); err != nil {
		t.Errorf("bare-post with -bare-base: %v", err)
	}
	if err := run([]string{"-serve-bare", "127.0.0.1:0", "-serve-for", "50ms"}, testWriter{t}, testWriter{t}); err != nil {
		t.Errorf("-serve-bare: %v", err)
	}
	if err := run([]string{"-serve-bare", "0.0.0.0:0", "-serve-for", "50ms"}, testWriter{t}, testWriter{t}); err == nil {
		t.Error("-serve-bare listened on 0.0.0.0")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
