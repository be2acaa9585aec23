package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ScenarioExamDay is a whole exam day with an audit at the end (see
// RunExamDay).
const ScenarioExamDay = "examday"

// ExamDayConfig describes one exam day.
type ExamDayConfig struct {
	Base                      string
	AdminEmail, AdminPassword string
	Students, Questions       int
	// Connections bounds the HTTP connections to the server (default 64);
	// every student runs at once, queueing for a connection as real
	// browsers queue behind a school's proxy.
	Connections int
	// Stagger spreads the students' starts evenly over this time; 0 starts
	// them all at once (a synchronised start).
	Stagger time.Duration
	// Cadence is the pause between two saves of one student (an autosave
	// interval), jittered by ±50 %.
	Cadence time.Duration
	// ChangeRate is the share of questions a student answers again with a
	// different choice (a change of mind); BatchRate the share of saves sent
	// as a batch of two to four answers; RetryRate the share of acknowledged
	// saves sent again with the same Idempotency-Key (a client retry), whose
	// answer must be the first one; SubmitRate the share of students who
	// submit before the doctor closes the exam.
	ChangeRate, BatchRate, RetryRate, SubmitRate float64
	// ResultsTimeout bounds the wait from the close until every attempt is
	// listed in the results (default 2 minutes).
	ResultsTimeout time.Duration
	Seed           uint64
	// Progress, when set, gets a progress line while the day runs.
	Progress io.Writer
}

func (c *ExamDayConfig) withDefaults() error {
	if c.Connections <= 0 {
		c.Connections = 64
	}
	if c.ResultsTimeout <= 0 {
		c.ResultsTimeout = 2 * time.Minute
	}
	var errs []error
	for name, v := range map[string]float64{"change rate": c.ChangeRate, "batch rate": c.BatchRate, "retry rate": c.RetryRate, "submit rate": c.SubmitRate} {
		if v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%s must be in 0..1", name))
		}
	}
	if c.Stagger < 0 || c.Stagger > MaxDuration || c.Cadence < 0 || c.Cadence > time.Minute {
		errs = append(errs, errors.New("stagger must be in 0..5m and cadence in 0..1m"))
	}
	return errors.Join(errs...)
}

// Phases of an exam day, the keys of ExamDayReport.Phases.
const (
	PhaseLogin     = "login"
	PhaseStart     = "start"
	PhaseSave      = "save"
	PhaseBatchSave = "batch_save"
	PhaseRetry     = "retry"
	PhaseSubmit    = "submit"
	PhaseClose     = "close"
	PhasePoll      = "poll"
	PhaseResult    = "result"
)

// PhaseReport is what one kind of request did.
type PhaseReport struct {
	Requests  int64       `json:"requests"`
	OK        int64       `json:"ok"`
	PerSecond float64     `json:"per_second"`
	Latency   Percentiles `json:"latency"`
	first     time.Time
	last      time.Time
	hist      *histogram
}

// ExamDayReport is the outcome of an exam day, printed as JSON.
type ExamDayReport struct {
	ExamID    string                  `json:"exam_id"`
	Students  int                     `json:"students"`
	Questions int                     `json:"questions"`
	Elapsed   time.Duration           `json:"elapsed_ns"`
	Phases    map[string]*PhaseReport `json:"phases"`
	// Errors counts failed requests by "<status> <code>" ("transport" for
	// a connection error), retried ones included.
	Errors map[string]int64 `json:"errors"`
	// CloseToGraded is from the close request until the exam read graded;
	// CloseToAllResults until the results listed every attempt.
	CloseToGraded     time.Duration `json:"close_to_graded_ns"`
	CloseToAllResults time.Duration `json:"close_to_all_results_ns"`
	// PartialResults counts polls that saw the exam graded while its
	// results listed fewer attempts than were started: the read side
	// contradicting the write side.
	PartialResults int         `json:"partial_results"`
	Audit          AuditReport `json:"audit"`
}

// AuditReport checks the day against what the tool saw acknowledged.
type AuditReport struct {
	// Attempts is how many students the server acknowledged a start for;
	// Listed how many result rows and CSV rows the final table had.
	Attempts   int `json:"attempts"`
	Listed     int `json:"listed"`
	CSVRows    int `json:"csv_rows"`
	Submitted  int `json:"submitted"`
	Answers    int `json:"acknowledged_answers"`
	Ambiguous  int `json:"ambiguous_students"`
	Retried    int `json:"keyed_retries"`
	BadRetries int `json:"keyed_retries_answered_differently"`
	// AnswerMismatches: a question whose graded choices are not the last
	// acknowledged ones; ScoreMismatches: a score that is not the one
	// recomputed from the acknowledged answers and the key.
	AnswerMismatches int      `json:"answer_mismatches"`
	ScoreMismatches  int      `json:"score_mismatches"`
	Samples          []string `json:"samples,omitempty"`
	Passed           bool     `json:"passed"`
}

// examDay is one run's shared state.
type examDay struct {
	cfg    ExamDayConfig
	api    *apiClient
	start  time.Time
	mu     sync.Mutex
	report *ExamDayReport
	done   atomic.Int64 // acknowledged saves and submits, for the progress line
	total  atomic.Int64 // planned saves and submits
}

// RunExamDay runs an exam day through the HTTP API and audits it:
//
//  1. setup: a level, a doctor, cfg.Students students and a published exam;
//  2. every student logs in and starts (at once, or staggered);
//  3. each answers every question at the autosave cadence, changes some
//     answers, sends some as batches and retries some with the same
//     Idempotency-Key; a save that fails is retried with its key until it
//     is acknowledged (as the exam room does);
//  4. a share of them submit; then the doctor closes the exam;
//  5. from the close on it polls the exam and its results: a graded exam
//     whose results list fewer attempts than were started is counted as
//     partial;
//  6. audit: every student's graded choices are the last ones the server
//     acknowledged, and every score is the one recomputed here from them
//     and the answer key (the platform's scoring rule, written out again).
//
// It returns the report, and an error when the audit did not pass.
func RunExamDay(ctx context.Context, c *http.Client, cfg ExamDayConfig) (*ExamDayReport, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	sc, err := SetupConfig{AdminEmail: cfg.AdminEmail, AdminPassword: cfg.AdminPassword, Students: cfg.Students,
		Questions: cfg.Questions, Parallel: min(cfg.Connections, 32)}.withDefaults(cfg.Base)
	if err != nil {
		return nil, err
	}
	d := &examDay{cfg: cfg, api: &apiClient{c: c, base: strings.TrimSuffix(cfg.Base, "/") + "/api/v1"},
		report: &ExamDayReport{Students: cfg.Students, Questions: cfg.Questions, Phases: map[string]*PhaseReport{}, Errors: map[string]int64{}}}
	d.start = time.Now()
	stopProgress := d.progress("setup")
	ppl, err := createPeople(ctx, d.api, sc)
	if err != nil {
		stopProgress()
		return nil, fmt.Errorf("setup: %w", err)
	}
	questions, fixture := examQuestions(sc.Questions, 2048)
	key := answerKeyOf(questions)
	examID, err := createExam(ctx, d.api, ppl, sc.RunID, questions)
	stopProgress()
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	d.report.ExamID = examID

	students := make([]*student, cfg.Students)
	for i := range students {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1))
		students[i] = &student{email: ppl.emails[i], rng: rng, acked: map[string][]string{}}
		students[i].plan = d.planFor(students[i], fixture)
		d.total.Add(int64(len(students[i].plan)))
	}
	stopProgress = d.progress("exam")
	var wg sync.WaitGroup
	for i, s := range students {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var offset time.Duration
			if cfg.Stagger > 0 {
				offset = cfg.Stagger * time.Duration(i) / time.Duration(len(students))
			}
			d.takeExam(ctx, s, examID, ppl.password, offset)
		}()
	}
	wg.Wait()
	stopProgress()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	stopProgress = d.progress("close")
	attempts := 0
	for _, s := range students {
		if s.started {
			attempts++
		}
	}
	d.closeAndWatch(ctx, examID, ppl.doctorToken, attempts)
	stopProgress()
	d.audit(ctx, examID, ppl.doctorToken, students, key)
	d.report.Elapsed = time.Since(d.start)
	d.finishPhases()
	if !d.report.Audit.Passed {
		return d.report, errors.New("the exam day's audit did not pass")
	}
	return d.report, nil
}

// student is one simulated student; only its own goroutine touches it until
// the audit.
type student struct {
	email     string
	token     string
	rng       *rand.Rand
	plan      []step
	started   bool
	submitted bool
	ambiguous bool                // a save never acknowledged nor refused
	acked     map[string][]string // question → last acknowledged choices
	seq       int
}

// step is one request a student will make: a save of one or several
// answers, or the submit.
type step struct {
	answers []answer // empty: submit
}

type answer struct {
	QuestionID string   `json:"question_id"`
	Choices    []string `json:"choices"`
}

// planFor decides what a student will do: every question answered in a
// random order, some answered again differently, some saves grouped into
// batches, and the submit for a share of the students.
func (d *examDay) planFor(s *student, qs []FixtureQuestion) []step {
	pick := func(q FixtureQuestion) answer {
		var body struct{ Choices []string }
		_ = json.Unmarshal(q.Bodies[s.rng.IntN(len(q.Bodies))], &body)
		return answer{QuestionID: q.ID, Choices: body.Choices}
	}
	var saves []answer
	for _, i := range s.rng.Perm(len(qs)) {
		saves = append(saves, pick(qs[i]))
	}
	for _, i := range s.rng.Perm(len(qs)) {
		if s.rng.Float64() < d.cfg.ChangeRate {
			saves = append(saves, pick(qs[i]))
		}
	}
	var plan []step
	for len(saves) > 0 {
		n := 1
		if len(saves) > 1 && s.rng.Float64() < d.cfg.BatchRate {
			// A batch names each question once (the API refuses repeats).
			seen := map[string]bool{saves[0].QuestionID: true}
			for want := min(2+s.rng.IntN(3), len(saves)); n < want && !seen[saves[n].QuestionID]; n++ {
				seen[saves[n].QuestionID] = true
			}
		}
		plan = append(plan, step{answers: saves[:n]})
		saves = saves[n:]
	}
	if s.rng.Float64() < d.cfg.SubmitRate {
		plan = append(plan, step{})
	}
	return plan
}

// takeExam is one student's exam: log in, start, save, maybe submit.
func (d *examDay) takeExam(ctx context.Context, s *student, examID, password string, offset time.Duration) {
	if !sleep(ctx, offset) {
		return
	}
	var login struct {
		AccessToken string `json:"access_token"`
	}
	body, _ := json.Marshal(map[string]string{"email": s.email, "password": password})
	if ok, _ := d.send(ctx, PhaseLogin, http.MethodPost, "/auth/login", "", "", body, &login); !ok {
		return
	}
	s.token = login.AccessToken
	if ok, _ := d.send(ctx, PhaseStart, http.MethodPost, "/exams/"+examID+"/attempt", s.token, d.key(s), nil, nil); !ok {
		return
	}
	s.started = true
	for _, st := range s.plan {
		if !sleep(ctx, jitter(s.rng, d.cfg.Cadence)) {
			return
		}
		phase, method, path := PhaseSave, http.MethodPut, ""
		var body []byte
		switch {
		case len(st.answers) == 0:
			phase, method, path = PhaseSubmit, http.MethodPost, "/exams/"+examID+"/submit"
		case len(st.answers) == 1:
			path = "/exams/" + examID + "/answers/" + st.answers[0].QuestionID
			body, _ = json.Marshal(map[string][]string{"choices": st.answers[0].Choices})
		default:
			phase, method, path = PhaseBatchSave, http.MethodPost, "/exams/"+examID+"/answers"
			body, _ = json.Marshal(map[string][]answer{"answers": st.answers})
		}
		idemKey := d.key(s)
		ok, first := d.send(ctx, phase, method, path, s.token, idemKey, body, nil)
		if !ok {
			if first == errUnknownOutcome {
				s.ambiguous = true
			}
			continue
		}
		d.done.Add(1)
		if phase == PhaseSubmit {
			s.submitted = true
			return
		}
		for _, a := range st.answers {
			s.acked[a.QuestionID] = a.Choices
		}
		if s.rng.Float64() < d.cfg.RetryRate {
			ok, again := d.send(ctx, PhaseRetry, method, path, s.token, idemKey, body, nil)
			d.mu.Lock()
			d.report.Audit.Retried++
			if !ok || again != first {
				d.report.Audit.BadRetries++
				d.sample(fmt.Sprintf("%s: keyed retry answered %q, first answer %q", s.email, again, first))
			}
			d.mu.Unlock()
		}
	}
}

// errUnknownOutcome is what send reports as the answer of a request that
// was never answered (transport errors, 5xx, 429 until the retries ran out).
const errUnknownOutcome = "\x00unknown"

// send makes one request, retrying transport errors, 5xx and 429 with the
// same Idempotency-Key (so a retry can never apply twice) up to five times.
// It reports whether a 2xx came and that answer's body (for a refused or
// unanswered request: its error, or errUnknownOutcome).
func (d *examDay) send(ctx context.Context, phase, method, path, token, idemKey string, body []byte, out any) (bool, string) {
	wait := 50 * time.Millisecond
	for try := 0; ; try++ {
		began := time.Now()
		status, raw, err := d.api.do(ctx, method, path, token, idemKey, body)
		d.record(phase, began, status >= 200 && status < 300)
		switch {
		case err == nil && status >= 200 && status < 300:
			if out != nil {
				if err := json.Unmarshal(raw, out); err != nil {
					d.countError("undecodable answer")
					return false, errUnknownOutcome
				}
			}
			return true, string(raw)
		case err != nil:
			d.countError("transport")
		default:
			d.countError(fmt.Sprintf("%d %s", status, errorCode(raw)))
			if status < 500 && status != http.StatusTooManyRequests {
				d.sample(fmt.Sprintf("%s %s: %d %s", method, path, status, bytes.TrimSpace(raw)))
				return false, string(raw) // refused: nothing was applied
			}
		}
		if try == 4 || ctx.Err() != nil || idemKey == "" && method != http.MethodGet && phase != PhaseLogin {
			return false, errUnknownOutcome
		}
		pause := wait
		if status == http.StatusTooManyRequests {
			pause = max(pause, time.Second) // the login admission's Retry-After is whole seconds
		}
		if !sleep(ctx, pause) {
			return false, errUnknownOutcome
		}
		wait *= 2
	}
}

// key is a fresh Idempotency-Key for one of the student's requests.
func (d *examDay) key(s *student) string {
	s.seq++
	return fmt.Sprintf("examload-%s-%d-%d", s.email, s.seq, s.rng.Uint64())
}

// closeAndWatch closes the exam as the doctor and polls the exam and its
// results until every attempt is listed.
func (d *examDay) closeAndWatch(ctx context.Context, examID, doctor string, attempts int) {
	closedAt := time.Now()
	if ok, _ := d.send(ctx, PhaseClose, http.MethodPost, "/exams/"+examID+"/close", doctor, "examload-close-"+examID, nil, nil); !ok {
		return
	}
	deadline := closedAt.Add(d.cfg.ResultsTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var exam struct{ Status string }
		if ok, _ := d.send(ctx, PhasePoll, http.MethodGet, "/exams/"+examID, doctor, "", nil, &exam); ok && exam.Status == "graded" {
			if d.report.CloseToGraded == 0 {
				d.report.CloseToGraded = time.Since(closedAt)
			}
			// The exam says graded: from now on the results must list
			// every attempt, whatever the lag of the read side.
			var res struct{ Items []json.RawMessage }
			ok, _ := d.send(ctx, PhasePoll, http.MethodGet, "/exams/"+examID+"/results", doctor, "", nil, &res)
			if ok && len(res.Items) < attempts {
				d.report.PartialResults++
				d.sample(fmt.Sprintf("graded exam listed %d of %d attempts", len(res.Items), attempts))
			}
			if ok && len(res.Items) >= attempts {
				d.report.CloseToAllResults = time.Since(closedAt)
				return
			}
		}
		sleep(ctx, 20*time.Millisecond)
	}
}

// audit compares the final results with what the tool saw acknowledged.
func (d *examDay) audit(ctx context.Context, examID, doctor string, students []*student, key map[string]keyEntry) {
	a := &d.report.Audit
	var res struct {
		Items []struct {
			Email string  `json:"email"`
			Score float64 `json:"score"`
		}
	}
	ok, _ := d.send(ctx, PhaseResult, http.MethodGet, "/exams/"+examID+"/results", doctor, "", nil, &res)
	scores := map[string]float64{}
	if ok {
		for _, it := range res.Items {
			scores[it.Email] = it.Score
		}
	}
	a.Listed = len(res.Items)
	if ok, csv := d.send(ctx, PhaseResult, http.MethodGet, "/exams/"+examID+"/results?format=csv", doctor, "", nil, nil); ok {
		a.CSVRows = max(strings.Count(strings.TrimSpace(csv), "\n"), 0) // the header line is not a row
	}
	var mu sync.Mutex
	_ = parallel(ctx, len(students), min(d.cfg.Connections, 32), func(i int) error {
		s := students[i]
		if !s.started {
			return nil
		}
		var own struct {
			Score     float64 `json:"score"`
			Questions []struct {
				QuestionID string   `json:"question_id"`
				Choices    []string `json:"choices"`
			} `json:"questions"`
		}
		ok, _ := d.send(ctx, PhaseResult, http.MethodGet, "/exams/"+examID+"/result", s.token, "", nil, &own)
		mu.Lock()
		defer mu.Unlock()
		a.Attempts++
		a.Answers += len(s.acked)
		if s.submitted {
			a.Submitted++
		}
		if s.ambiguous {
			a.Ambiguous++
			return nil
		}
		if !ok {
			a.AnswerMismatches++
			d.sample(s.email + ": no result")
			return nil
		}
		graded := map[string][]string{}
		for _, q := range own.Questions {
			if len(q.Choices) > 0 {
				graded[q.QuestionID] = q.Choices
			}
		}
		for q, want := range s.acked {
			if !sameSet(graded[q], want) {
				a.AnswerMismatches++
				d.sample(fmt.Sprintf("%s %s: graded %v, last acknowledged %v", s.email, q, graded[q], want))
			}
		}
		for q := range graded {
			if _, ok := s.acked[q]; !ok {
				a.AnswerMismatches++
				d.sample(fmt.Sprintf("%s %s: graded an answer never acknowledged", s.email, q))
			}
		}
		want := expectedScore(key, s.acked)
		if got, listed := scores[s.email]; !listed || !near(got, want) || !near(own.Score, want) {
			a.ScoreMismatches++
			d.sample(fmt.Sprintf("%s: score listed %v (listed: %v), own result %v, recomputed %v", s.email, got, listed, own.Score, want))
		}
		return nil
	})
	a.Passed = a.Attempts > 0 && a.Listed == a.Attempts && a.CSVRows == a.Attempts && a.AnswerMismatches == 0 &&
		a.ScoreMismatches == 0 && a.BadRetries == 0 && a.Ambiguous == 0 && d.report.PartialResults == 0
}

// keyEntry is a question's answer key as the tool authored it.
type keyEntry struct {
	kind    string
	correct []string
	points  float64
}

func answerKeyOf(questions []map[string]any) map[string]keyEntry {
	key := map[string]keyEntry{}
	for _, q := range questions {
		e := keyEntry{kind: q["kind"].(string), correct: q["correct"].([]string), points: 1}
		if p, ok := q["points"].(int); ok {
			e.points = float64(p)
		}
		key[q["id"].(string)] = e
	}
	return key
}

// expectedScore is ARCHITECTURE.md's scoring rule written out independently
// of the platform's code: single and true/false earn full points when
// right; multiple earns points × max(0, (right − wrong chosen) / number of
// keys). The fixture has no negative marking.
func expectedScore(key map[string]keyEntry, answers map[string][]string) float64 {
	total := 0.0
	for q, choices := range answers {
		k := key[q]
		right, wrong := 0, 0
		for _, c := range choices {
			if contains(k.correct, c) {
				right++
			} else {
				wrong++
			}
		}
		if k.kind == "multiple" {
			total += k.points * max(0, float64(right-wrong)/float64(len(k.correct)))
		} else if right == 1 && wrong == 0 {
			total += k.points
		}
	}
	return total
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

func near(a, b float64) bool { return a-b < 1e-4 && b-a < 1e-4 }

func errorCode(raw []byte) string {
	var e struct {
		Error struct{ Code string }
	}
	if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
		return e.Error.Code
	}
	return "-"
}

func jitter(rng *rand.Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(rng.Int64N(int64(d)+1))
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (d *examDay) record(phase string, began time.Time, ok bool) {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.report.Phases[phase]
	if p == nil {
		p = &PhaseReport{hist: newHistogram(), first: began}
		d.report.Phases[phase] = p
	}
	p.Requests++
	if ok {
		p.OK++
	}
	p.last = now
	p.hist.record(now.Sub(began))
}

func (d *examDay) countError(code string) {
	d.mu.Lock()
	d.report.Errors[code]++
	d.mu.Unlock()
}

// sample keeps the first few problems for the report; callers may hold mu.
func (d *examDay) sample(s string) {
	if len(d.report.Audit.Samples) < 10 {
		d.report.Audit.Samples = append(d.report.Audit.Samples, s)
	}
}

func (d *examDay) finishPhases() {
	for _, p := range d.report.Phases {
		p.Latency = p.hist.percentiles()
		if span := p.last.Sub(p.first); span > 0 {
			p.PerSecond = float64(p.Requests) / span.Seconds()
		}
	}
}

// progress draws a progress line every quarter second until stopped.
func (d *examDay) progress(stage string) (stop func()) {
	if d.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintln(d.cfg.Progress, d.progressLine(stage))
				return
			case <-t.C:
				fmt.Fprint(d.cfg.Progress, "\r"+d.progressLine(stage))
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (d *examDay) progressLine(stage string) string {
	done, total := d.done.Load(), d.total.Load()
	const width = 30
	filled := 0
	if total > 0 {
		filled = int(done * width / total)
	}
	d.mu.Lock()
	var errs int64
	for _, n := range d.report.Errors {
		errs += n
	}
	d.mu.Unlock()
	return fmt.Sprintf("examday %-5s [%s%s] %d/%d saves+submits · %s · errors %d   ", stage,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, time.Since(d.start).Round(100*time.Millisecond), errs)
}

// do sends one request with an optional Idempotency-Key and returns the
// status and body.
func (a *apiClient) do(ctx context.Context, method, path, token, idemKey string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, raw, err
}
