package multiproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// --- the exam -----------------------------------------------------------

// qdef is one question of the test exam.
type qdef struct {
	id, kind string
	correct  []string
	points   float64
	negative float64
}

// questions: every kind, partial credit, negative marking.
var questions = []qdef{
	{"q1", "single", []string{"b"}, 1, 0},
	{"q2", "multiple", []string{"a", "c"}, 2, 0},
	{"q3", "true_false", []string{"true"}, 1, 0},
	{"q4", "single", []string{"d"}, 2, 0.5},
	{"q5", "multiple", []string{"b", "c", "d"}, 3, 0},
	{"q6", "true_false", []string{"false"}, 1, 0.5},
	{"q7", "single", []string{"a"}, 1, 0},
	{"q8", "multiple", []string{"a"}, 2, 0},
	{"q9", "true_false", []string{"true"}, 2, 0},
	{"q10", "single", []string{"c"}, 1, 0.25},
}

var letters = []string{"a", "b", "c", "d"}

// examBody is the POST /exams body, identical for every deployment.
func examBody(levelID, title string) map[string]any {
	qs := make([]map[string]any, 0, len(questions))
	for _, q := range questions {
		m := map[string]any{"id": q.id, "text": "Question " + q.id + "?", "kind": q.kind, "correct": q.correct,
			"points": q.points, "negative_points": q.negative}
		if q.kind != "true_false" {
			var cs []choice
			for _, k := range letters {
				cs = append(cs, choice{Key: k, Text: "Choice " + strings.ToUpper(k)})
			}
			m["choices"] = cs
		}
		qs = append(qs, m)
	}
	return map[string]any{"title": title, "level_id": levelID, "time_limit_seconds": 7200, "questions": qs}
}

// --- student scripts ----------------------------------------------------

// answer is one question's choices.
type answer struct {
	Q       string   `json:"question_id"`
	Choices []string `json:"choices"`
}

// op is one write: a single answer (PUT) or an autosave batch (POST).
type op []answer

// script is what one student does: the writes in order, then submit.
type script struct{ ops []op }

// makeScript derives a student's script from the seed and the student's
// index alone: the same on every deployment. It answers most questions,
// changes its mind on some (later in the script), and sends some answers
// in batches.
func makeScript(seed uint64, idx int) script {
	rng := rand.New(rand.NewPCG(seed, uint64(idx)))
	var seq []answer
	for _, i := range rng.Perm(len(questions)) {
		if rng.Float64() < 0.9 {
			seq = append(seq, randomAnswer(rng, questions[i]))
		}
	}
	first := len(seq)
	for _, a := range seq[:first] {
		if rng.Float64() < 0.35 {
			q, _ := questionByID(a.Q)
			seq = append(seq, randomAnswer(rng, q))
		}
	}
	if len(seq) == 0 {
		seq = append(seq, randomAnswer(rng, questions[0]))
	}
	var s script
	for i := 0; i < len(seq); {
		n := 1
		if rng.Float64() < 0.25 {
			n = 2 + rng.IntN(2)
		}
		batch := op{seq[i]}
		i++
		for len(batch) < n && i < len(seq) && !slices.ContainsFunc(batch, func(a answer) bool { return a.Q == seq[i].Q }) {
			batch = append(batch, seq[i])
			i++
		}
		s.ops = append(s.ops, batch)
	}
	return s
}

func randomAnswer(rng *rand.Rand, q qdef) answer {
	switch q.kind {
	case "true_false":
		return answer{q.id, []string{[]string{"true", "false"}[rng.IntN(2)]}}
	case "single":
		return answer{q.id, []string{letters[rng.IntN(len(letters))]}}
	default:
		var cs []string
		for _, k := range letters {
			if rng.Float64() < 0.45 {
				cs = append(cs, k)
			}
		}
		if len(cs) == 0 {
			cs = []string{letters[rng.IntN(len(letters))]}
		}
		return answer{q.id, cs}
	}
}

func questionByID(id string) (qdef, bool) {
	for _, q := range questions {
		if q.id == id {
			return q, true
		}
	}
	return qdef{}, false
}

// answerCount is the number of answers the script writes.
func (s script) answerCount() int {
	n := 0
	for _, o := range s.ops {
		n += len(o)
	}
	return n
}

// --- a site: one deployment seen through its API ------------------------

// site is one deployment (the distributed one through nginx, or the
// embedded oracle) with the people of the test.
type site struct {
	c          *client
	admin      string
	doctor     string
	levelID    string
	probeLevel string
	students   []*student
	probes     int
}

// student is one student account on one site.
type student struct {
	idx      int
	email    string
	password string
	id       string
	token    string
}

func studentEmail(i int) string { return fmt.Sprintf("s%03d@examday.test", i) }

// login signs in as a real client does: a 429 (the platform's login
// admission turning away what exceeds its hashing capacity, API.md) is
// tried again after its Retry-After, a bounded number of times; any other
// failure, or a login still refused, counts as a failed request.
func login(c *client, email, password string) (tokenResponse, error) {
	var tr tokenResponse
	body := map[string]string{"email": email, "password": password}
	r := c.send(http.MethodPost, "/auth/login", "", body)
	for try := 0; try < 10 && r.err == nil && r.status == http.StatusTooManyRequests; try++ {
		wait := time.Second
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err == nil && s > 0 && s <= 30 {
			wait = time.Duration(s) * time.Second
		}
		time.Sleep(wait)
		r = c.send(http.MethodPost, "/auth/login", "", body)
	}
	if !r.ok() {
		c.fail(r.String())
		return tr, fmt.Errorf("%s: %s", c.name, r)
	}
	if err := r.decode(&tr); err != nil {
		return tr, err
	}
	if tr.AccessToken == "" {
		return tr, fmt.Errorf("login %s: no access token: %s", email, r)
	}
	return tr, nil
}

// setupSite creates the level, a probe level (for lag measurements), the
// doctor and n students (not logged in), with bounded concurrency: argon2
// hashing is the cost.
func setupSite(c *client, n int) (*site, error) {
	s := &site{c: c}
	tr, err := login(c, adminEmail, adminPassword)
	if err != nil {
		return nil, err
	}
	s.admin = tr.AccessToken
	for _, lv := range []struct {
		name string
		dst  *string
	}{{"Year 1", &s.levelID}, {"Lag probes", &s.probeLevel}} {
		r, err := c.do(http.MethodPost, "/levels", s.admin, map[string]string{"name": lv.name})
		if err != nil {
			return nil, err
		}
		var v struct{ ID string }
		if err := r.decode(&v); err != nil {
			return nil, err
		}
		*lv.dst = v.ID
	}
	if _, err := c.do(http.MethodPost, "/users", s.admin, map[string]any{"email": "doctor@examday.test", "password": "doctor-pass-1",
		"full_name": "Dr. Amal", "role": "doctor", "subject": "Biology"}); err != nil {
		return nil, err
	}
	if tr, err = login(c, "doctor@examday.test", "doctor-pass-1"); err != nil {
		return nil, err
	}
	s.doctor = tr.AccessToken
	s.students = make([]*student, n)
	err = forEach(n, 8, func(i int) error {
		st := &student{idx: i, email: studentEmail(i), password: fmt.Sprintf("student-pass-%03d", i)}
		r, err := c.do(http.MethodPost, "/users", s.admin, map[string]any{"email": st.email, "password": st.password,
			"full_name": fmt.Sprintf("Student %03d", i), "role": "student", "level_id": s.levelID, "id_number": fmt.Sprintf("2026-%04d", i)})
		if err != nil {
			return err
		}
		var u userRow
		if err := r.decode(&u); err != nil {
			return err
		}
		st.id = u.ID
		s.students[i] = st
		return nil
	})
	return s, err
}

// forEach runs f(0..n-1) with at most par at a time and joins the errors.
func forEach(n, par int, f func(i int) error) error {
	sem := make(chan struct{}, par)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 5 {
		errs = append(errs[:5], fmt.Errorf("… and %d more errors", len(errs)-5))
	}
	return errors.Join(errs...)
}

// loginStudents logs the students in (bounded: argon2).
func (s *site) loginStudents(idx []int) error {
	return forEach(len(idx), 8, func(k int) error {
		st := s.students[idx[k]]
		tr, err := login(s.c, st.email, st.password)
		if err != nil {
			return err
		}
		st.token = tr.AccessToken
		return nil
	})
}

// createExam creates and publishes the exam and returns its id.
func (s *site) createExam(title string) (string, error) {
	r, err := s.c.do(http.MethodPost, "/exams", s.doctor, examBody(s.levelID, title))
	if err != nil {
		return "", err
	}
	var e examView
	if err := r.decode(&e); err != nil {
		return "", err
	}
	r, err = s.c.do(http.MethodPost, "/exams/"+e.ID+"/publish", s.doctor, nil)
	if err != nil {
		return "", err
	}
	if err := r.decode(&e); err != nil {
		return "", err
	}
	if e.Status != "open" {
		return "", fmt.Errorf("published exam is %q, want open: %s", e.Status, r)
	}
	return e.ID, nil
}

// waitStudentSees waits until a student gets the open exam (the read side
// may lag the publish); 404 is allowed meanwhile.
func (s *site) waitStudentSees(examID string, st *student, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		r := s.c.poll("/exams/"+examID, st.token, http.StatusNotFound)
		if r.ok() {
			var e examView
			if err := r.decode(&e); err != nil {
				return err
			}
			if e.Status == "open" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("student %s does not see exam %s open after %s: %s", st.email, examID, timeout, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outcome is what one student's script got acknowledged.
type outcome struct {
	final map[string][]string // question -> choices, from 2xx answers only
	acked int                 // answers in 2xx writes
	err   error
}

// fetchExam is a student's GET of the exam: 200, open, no answer keys.
func (s *site) fetchExam(examID string, st *student) error {
	r, err := s.c.do(http.MethodGet, "/exams/"+examID, st.token, nil)
	if err != nil {
		return err
	}
	var e examView
	if err := r.decode(&e); err != nil {
		return err
	}
	if len(e.Questions) != len(questions) {
		return fmt.Errorf("student %s: exam has %d questions, want %d", st.email, len(e.Questions), len(questions))
	}
	for _, q := range e.Questions {
		var m map[string]any
		if err := json.Unmarshal(q, &m); err != nil {
			return err
		}
		if _, ok := m["correct"]; ok {
			return fmt.Errorf("student %s received an answer key before grading: %s", st.email, q)
		}
	}
	return nil
}

// runScript plays one student's script: fetch the exam, write the answers
// in order, submit. Each acknowledged answer calls onAnswer.
func (s *site) runScript(examID string, st *student, sc script, onAnswer func(n int)) outcome {
	out := outcome{final: map[string][]string{}}
	var errs []error
	if err := s.fetchExam(examID, st); err != nil {
		errs = append(errs, err)
	}
	for _, o := range sc.ops {
		var err error
		if len(o) == 1 {
			_, err = s.c.do(http.MethodPut, "/exams/"+examID+"/answers/"+o[0].Q, st.token, map[string]any{"choices": o[0].Choices})
		} else {
			_, err = s.c.do(http.MethodPost, "/exams/"+examID+"/answers", st.token, map[string]any{"answers": o})
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range o {
			out.final[a.Q] = a.Choices
		}
		out.acked += len(o)
		if onAnswer != nil {
			onAnswer(len(o))
		}
	}
	if _, err := s.c.do(http.MethodPost, "/exams/"+examID+"/submit", st.token, nil); err != nil {
		errs = append(errs, err)
	}
	out.err = errors.Join(errs...)
	return out
}

// runStudents plays the scripts of the given students concurrently (all at
// once) and returns their outcomes by student index.
func (s *site) runStudents(examID string, idx []int, seed uint64, onAnswer func(n int)) map[int]outcome {
	var mu sync.Mutex
	outs := map[int]outcome{}
	var wg sync.WaitGroup
	for _, i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := s.runScript(examID, s.students[i], makeScript(seed, i), onAnswer)
			mu.Lock()
			outs[i] = o
			mu.Unlock()
		}()
	}
	wg.Wait()
	return outs
}

// closeAndResults closes the exam and polls until it is graded and the
// results hold a row for each of want students; it returns them by email.
func (s *site) closeAndResults(examID string, want int, timeout time.Duration) (map[string]resultRow, error) {
	if _, err := s.c.do(http.MethodPost, "/exams/"+examID+"/close", s.doctor, nil); err != nil {
		return nil, err
	}
	return s.waitResults(examID, want, timeout)
}

// waitResults polls until the exam is graded and its results hold want
// rows, each graded.
func (s *site) waitResults(examID string, want int, timeout time.Duration) (map[string]resultRow, error) {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		r := s.c.poll("/exams/"+examID, s.doctor)
		var e examView
		if r.ok() && r.decode(&e) == nil && e.Status == "graded" {
			rr := s.c.poll("/exams/"+examID+"/results?limit=500", s.doctor, http.StatusConflict)
			last = rr.String()
			if rr.ok() {
				var p page[resultRow]
				if err := rr.decode(&p); err != nil {
					return nil, err
				}
				rows := map[string]resultRow{}
				graded := 0
				for _, row := range p.Items {
					rows[row.Email] = row
					if row.GradedAt != nil {
						graded++
					}
				}
				if len(rows) == want && graded == want {
					return rows, nil
				}
				last = fmt.Sprintf("%d rows (%d graded), want %d", len(rows), graded, want)
			}
		} else {
			last = "exam status: " + r.String()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: exam %s: no complete results after %s; last: %s", s.c.name, examID, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// compareResults checks got against the oracle's results: the same
// students, each with the same score.
func compareResults(got, want map[string]resultRow) []string {
	var diffs []string
	for email, w := range want {
		g, ok := got[email]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: no result row (embedded: score %v)", email, w.Score))
		case !same(g.Score, w.Score) || !same(g.MaxScore, w.MaxScore) || g.Answered != w.Answered:
			diffs = append(diffs, fmt.Sprintf("%s: score %v/%v answered %d, embedded mode %v/%v answered %d",
				email, g.Score, g.MaxScore, g.Answered, w.Score, w.MaxScore, w.Answered))
		}
	}
	for email := range got {
		if _, ok := want[email]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: result row the embedded mode does not have", email))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func same(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

// checkAttempts compares each student's attempt view with the answers the
// script got acknowledged (polling briefly: the view may lag).
func (s *site) checkAttempts(examID string, outs map[int]outcome, timeout time.Duration) []string {
	var mu sync.Mutex
	var diffs []string
	idx := make([]int, 0, len(outs))
	for i := range outs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	_ = forEach(len(idx), 16, func(k int) error {
		i := idx[k]
		st, want := s.students[i], outs[i].final
		deadline := time.Now().Add(timeout)
		for {
			r := s.c.poll("/exams/"+examID+"/attempt", st.token)
			var av attemptView
			var diff string
			if !r.ok() {
				diff = r.String()
			} else if err := r.decode(&av); err != nil {
				diff = err.Error()
			} else {
				diff = answersDiff(av.Answers, want)
			}
			if diff == "" {
				return nil
			}
			if time.Now().After(deadline) {
				mu.Lock()
				diffs = append(diffs, fmt.Sprintf("%s: attempt view differs from the acknowledged answers: %s", st.email, diff))
				mu.Unlock()
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	sort.Strings(diffs)
	return diffs
}

func answersDiff(got, want map[string][]string) string {
	var parts []string
	for q, w := range want {
		g := slices.Sorted(slices.Values(got[q]))
		if !slices.Equal(g, slices.Sorted(slices.Values(w))) {
			parts = append(parts, fmt.Sprintf("%s: got %v want %v", q, got[q], w))
		}
	}
	for q, g := range got {
		if _, ok := want[q]; !ok {
			parts = append(parts, fmt.Sprintf("%s: got %v, never acknowledged", q, g))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// answerEvents counts the exam's answer_saved events per student id from
// the audit trail.
func (s *site) answerEvents(examID string) (map[string]int, error) {
	counts := map[string]int{}
	cursor := ""
	for {
		path := "/exams/" + examID + "/events?type=attempt.answer_saved.v1&limit=500"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r, err := s.c.do(http.MethodGet, path, s.doctor, nil)
		if err != nil {
			return nil, err
		}
		var p page[eventRow]
		if err := r.decode(&p); err != nil {
			return nil, err
		}
		for _, e := range p.Items {
			if e.Type != "attempt.answer_saved.v1" {
				return nil, fmt.Errorf("events?type=attempt.answer_saved.v1 returned a %s event", e.Type)
			}
			counts[e.Data.StudentID]++
		}
		if p.NextCursor == nil || *p.NextCursor == "" {
			return counts, nil
		}
		cursor = *p.NextCursor
	}
}

// createProbeUser creates a student in the probe level and returns its
// email.
func (s *site) createProbeUser(tag string) (string, error) {
	s.probes++
	email := fmt.Sprintf("probe-%s-%d@examday.test", tag, s.probes)
	_, err := s.c.do(http.MethodPost, "/users", s.admin, map[string]any{"email": email, "password": "probe-pass-123",
		"full_name": "Probe " + tag, "role": "student", "level_id": s.probeLevel, "id_number": email})
	return email, err
}

// userVisible reports whether GET /users lists the email in the probe
// level.
func (s *site) userVisible(email string) (bool, *response) {
	r := s.c.poll("/users?level_id="+s.probeLevel+"&limit=500", s.admin)
	if !r.ok() {
		return false, r
	}
	var p page[userRow]
	if err := r.decode(&p); err != nil {
		return false, r
	}
	for _, u := range p.Items {
		if u.Email == email {
			return true, r
		}
	}
	return false, r
}

// waitStudentsListed polls GET /users until the level lists every student
// of the site: the read models have caught up with the setup.
func (s *site) waitStudentsListed(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		r := s.c.poll("/users?level_id="+s.levelID+"&limit=500", s.admin)
		listed := 0
		if r.ok() {
			var p page[userRow]
			if err := r.decode(&p); err != nil {
				return err
			}
			listed = len(p.Items)
		}
		if listed >= len(s.students) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET /users lists %d of the %d students after %s (last: %s)", listed, len(s.students), timeout, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitUserVisible polls GET /users until the email shows up and returns how
// long that took.
func (s *site) waitUserVisible(email string, every, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		ok, r := s.userVisible(email)
		if ok {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("%s not listed by GET /users after %s (last: %s)", email, timeout, r)
		}
		time.Sleep(every)
	}
}
