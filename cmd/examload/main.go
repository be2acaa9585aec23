// Command examload drives a running examd on the loopback interface and
// reports throughput and latency, next to in-process gin baselines.
//
//	examload -admin-email admin@school.test -admin-password ... [flags]
//
// It creates (through the API) a level, a doctor, -students students and a
// published exam of -questions questions whose student document is about
// -doc-bytes, logs the students in, then runs -concurrency workers for
// -duration:
//
//	-scenario answers    PUT /api/v1/exams/{id}/answers/{qid}, random valid choices,
//	                     each worker a different student (durable saves)
//	-scenario fetch      student GET /api/v1/exams/{id} (the cached document)
//	-scenario mixed      90 % answers, 10 % fetches
//	-scenario bare-post  baseline: gin + HS256 JWT + small JSON POST
//	-scenario bare-get   baseline: gin + precomputed 4 KB JSON GET
//	-scenario compare    bare-post, answers, bare-get, fetch in turn, then the
//	                     ratios of the targets (answers ≥ 50 % of bare-post,
//	                     fetch ≥ 70 % of bare-get)
//	-scenario examday    a whole exam day and its audit (RunExamDay): -students
//	                     log in and start (-stagger), answer at an autosave
//	                     -cadence with changes of mind, batches and keyed
//	                     retries, a -submit-rate share submit, the doctor
//	                     closes; then every acknowledged answer must be in the
//	                     grade, every score must match the one recomputed from
//	                     them, and the results must never be partial once the
//	                     exam reads graded. A progress line on stderr, a JSON
//	                     report on stdout (rates and p50/p99 per phase, errors
//	                     by code, close → graded, close → all results listed);
//	                     exits non-zero when the audit fails.
//
// It prints requests, errors (any non-2xx; the first -errors of them), req/s
// and p50/p90/p99/max latency, and exits non-zero if there was any error.
//
// The baselines need a bare server: -bare starts one in this process on
// 127.0.0.1 (any free port); -bare-base uses one that another examload runs
// in its own process, which compares like with like when examd runs in its
// own process too:
//
//	examload -serve-bare 127.0.0.1:18081 &     # serves for -serve-for (default 15m)
//	examload -bare-base http://127.0.0.1:18081 -scenario compare ...
//
// Only loopback addresses are accepted anywhere.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "examload:", err)
		os.Exit(1)
	}
}

type options struct {
	base, scenario        string
	adminEmail, adminPass string
	concurrency, students int
	questions, docBytes   int
	duration, warmup      time.Duration
	bare                  bool
	bareAddr, bareBase    string
	bareSecret            string
	serveBare             string
	serveFor              time.Duration
	seed                  uint64
	maxRequests           int64
	errorSamples          int
	jsonOut               bool
	day                   ExamDayConfig
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("examload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.base, "base", "http://127.0.0.1:8080", "examd base URL (loopback only)")
	fs.StringVar(&o.scenario, "scenario", ScenarioAnswers, "answers, fetch, mixed, bare-post, bare-get, compare or examday")
	fs.StringVar(&o.adminEmail, "admin-email", os.Getenv("EXAM_ADMIN_EMAIL"), "admin email (default $EXAM_ADMIN_EMAIL)")
	fs.StringVar(&o.adminPass, "admin-password", "", "admin password (default $EXAM_ADMIN_PASSWORD)")
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent workers (connections)")
	fs.IntVar(&o.students, "students", 0, "students to create (default: -concurrency)")
	fs.IntVar(&o.questions, "questions", 10, "questions in the exam")
	fs.IntVar(&o.docBytes, "doc-bytes", 4096, "target size of the student exam document")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured duration per scenario (max 5m)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up per scenario (max 1m; 0 for none)")
	fs.BoolVar(&o.bare, "bare", false, "start the bare gin baseline server in-process on -bare-addr")
	fs.StringVar(&o.bareAddr, "bare-addr", "127.0.0.1:0", "listen address of the in-process bare server (loopback only)")
	fs.StringVar(&o.bareBase, "bare-base", "", "base URL of a bare server another examload serves (-serve-bare)")
	fs.StringVar(&o.bareSecret, "bare-secret", DefaultBareSecret, "HS256 secret of the bare server's tokens")
	fs.StringVar(&o.serveBare, "serve-bare", "", "only serve the bare baseline server on this loopback address")
	fs.DurationVar(&o.serveFor, "serve-for", 15*time.Minute, "how long -serve-bare serves (max 1h)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	fs.Int64Var(&o.maxRequests, "max-requests", DefaultMaxRequests, "cap on requests per scenario")
	fs.IntVar(&o.errorSamples, "errors", 5, "how many error responses to print")
	fs.BoolVar(&o.jsonOut, "json", false, "print the reports as JSON")
	fs.DurationVar(&o.day.Stagger, "stagger", 0, "examday: spread the students' starts over this time (0: all at once)")
	fs.DurationVar(&o.day.Cadence, "cadence", 500*time.Millisecond, "examday: pause between one student's saves (±50 %)")
	fs.Float64Var(&o.day.ChangeRate, "change-rate", 0.3, "examday: share of questions answered again differently")
	fs.Float64Var(&o.day.BatchRate, "batch-rate", 0.2, "examday: share of saves sent as a batch of 2–4 answers")
	fs.Float64Var(&o.day.RetryRate, "retry-rate", 0.1, "examday: share of saves retried with the same Idempotency-Key")
	fs.Float64Var(&o.day.SubmitRate, "submit-rate", 0.5, "examday: share of students who submit before the close")
	fs.DurationVar(&o.day.ResultsTimeout, "results-timeout", 2*time.Minute, "examday: longest wait from the close until every attempt is listed")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.adminPass == "" {
		o.adminPass = os.Getenv("EXAM_ADMIN_PASSWORD")
	}
	if o.students == 0 {
		o.students = o.concurrency
	}
	switch {
	case o.duration <= 0 || o.duration > MaxDuration:
		return o, fmt.Errorf("-duration must be in (0, %s]", MaxDuration)
	case o.warmup < 0 || o.warmup > time.Minute:
		return o, errors.New("-warmup must be in [0, 1m]")
	case o.concurrency < 1 || o.concurrency > 10_000:
		return o, errors.New("-concurrency must be in 1..10000")
	case o.maxRequests < 1:
		return o, errors.New("-max-requests must be at least 1")
	case o.serveFor <= 0 || o.serveFor > time.Hour:
		return o, errors.New("-serve-for must be in (0, 1h]")
	case o.bare && o.bareBase != "":
		return o, errors.New("-bare and -bare-base exclude each other")
	case len(o.bareSecret) < 32:
		return o, errors.New("-bare-secret must be at least 32 bytes")
	}
	if o.bareBase != "" {
		if _, err := CheckLoopback(o.bareBase); err != nil {
			return o, err
		}
	}
	if _, err := CheckLoopback(o.base); err != nil {
		return o, err
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.serveBare != "" {
		return serveBareFor(ctx, o, stderr)
	}

	if o.scenario == ScenarioExamDay {
		return runExamDay(ctx, o, stdout, stderr)
	}
	var scenarios []string
	switch o.scenario {
	case "compare":
		scenarios = []string{ScenarioBarePost, ScenarioAnswers, ScenarioBareGet, ScenarioFetch}
	case ScenarioAnswers, ScenarioFetch, ScenarioMixed, ScenarioBarePost, ScenarioBareGet:
		scenarios = []string{o.scenario}
	default:
		return fmt.Errorf("unknown -scenario %q", o.scenario)
	}
	needsBare, needsPlatform := false, false
	for _, s := range scenarios {
		if s == ScenarioBarePost || s == ScenarioBareGet {
			needsBare = true
		} else {
			needsPlatform = true
		}
	}
	if needsBare && !o.bare && o.bareBase == "" {
		return fmt.Errorf("-scenario %s needs -bare (a baseline server in this process) or -bare-base", o.scenario)
	}

	client := NewClient(o.concurrency)
	fx := &Fixture{}
	var bareBase string
	switch {
	case needsBare && o.bareBase != "":
		token, err := bareToken([]byte(o.bareSecret))
		if err != nil {
			return err
		}
		bareBase, fx.BareToken = o.bareBase, token
	case needsBare:
		base, token, stopBare, err := startBare(o.bareAddr, []byte(o.bareSecret))
		if err != nil {
			return fmt.Errorf("bare server: %w", err)
		}
		defer stopBare()
		bareBase, fx.BareToken = base, token
		fmt.Fprintf(stderr, "bare server on %s (in this process)\n", base)
	}
	if needsPlatform {
		start := time.Now()
		sfx, err := Setup(ctx, client, o.base, SetupConfig{
			AdminEmail: o.adminEmail, AdminPassword: o.adminPass, Students: o.students,
			Questions: o.questions, DocBytes: o.docBytes,
		})
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		sfx.BareToken = fx.BareToken
		fx = sfx
		fmt.Fprintf(stderr, "setup: exam %s, %d questions, %d students, student document %d bytes (%s)\n",
			fx.ExamID, len(fx.Questions), len(fx.StudentTokens), fx.DocBytes, time.Since(start).Round(time.Millisecond))
	}

	reports := map[string]Report{}
	for _, s := range scenarios {
		base := o.base
		if s == ScenarioBarePost || s == ScenarioBareGet {
			base = bareBase
		}
		cfg := Config{Base: base, Scenario: s, Concurrency: o.concurrency, Fixture: fx, Client: client,
			Seed: o.seed, MaxRequests: o.maxRequests, ErrorSamples: o.errorSamples}
		if o.warmup > 0 {
			wc := cfg
			wc.Duration = o.warmup
			if _, err := Run(ctx, wc); err != nil {
				return err
			}
		}
		cfg.Duration = o.duration
		rep, err := Run(ctx, cfg)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		reports[s] = rep
		if !o.jsonOut {
			fmt.Fprint(stdout, rep.String())
		}
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(reports)
	}
	if o.scenario == "compare" {
		fmt.Fprint(stdout, ratios(reports))
	}
	for _, r := range reports {
		if r.Errors > 0 {
			return fmt.Errorf("%s: %d errors", r.Scenario, r.Errors)
		}
	}
	return nil
}

// runExamDay runs -scenario examday: a progress line on stderr, the JSON
// report on stdout, and an error when the audit fails.
func runExamDay(ctx context.Context, o options, stdout, stderr io.Writer) error {
	cfg := o.day
	cfg.Base, cfg.AdminEmail, cfg.AdminPassword = o.base, o.adminEmail, o.adminPass
	cfg.Students, cfg.Questions, cfg.Connections, cfg.Seed = o.students, o.questions, o.concurrency, o.seed
	cfg.Progress = stderr
	client := NewClient(o.concurrency)
	client.Transport.(*http.Transport).MaxConnsPerHost = o.concurrency
	rep, err := RunExamDay(ctx, client, cfg)
	if rep != nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(rep); werr != nil {
			return werr
		}
	}
	return err
}

// ratios states the targets: durable answer saves ≥ 50 % of the bare JSON
// POST, cached exam fetch ≥ 70 % of the bare cached GET.
func ratios(r map[string]Report) string {
	line := func(name, a, b string, target float64) string {
		ra, rb := r[a].ReqPerSec, r[b].ReqPerSec
		if rb == 0 {
			return ""
		}
		got := ra / rb
		verdict := "meets"
		if got < target {
			verdict = "MISSES"
		}
		return fmt.Sprintf("%-8s %.0f / %.0f req/s = %.1f %% (target ≥ %.0f %%: %s)\n", name, ra, rb, 100*got, 100*target, verdict)
	}
	return line("answers", ScenarioAnswers, ScenarioBarePost, 0.5) + line("fetch", ScenarioFetch, ScenarioBareGet, 0.7)
}

// serveBareFor serves the bare baseline server until -serve-for passes or
// the process is interrupted.
func serveBareFor(ctx context.Context, o options, stderr io.Writer) error {
	base, _, stopBare, err := startBare(o.serveBare, []byte(o.bareSecret))
	if err != nil {
		return err
	}
	defer stopBare()
	fmt.Fprintf(stderr, "bare server on %s for %s\n", base, o.serveFor)
	t := time.NewTimer(o.serveFor)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return nil
}
