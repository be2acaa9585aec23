package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fixture is what the scenarios run against.
type Fixture struct {
	ExamID        string
	LevelID       string
	Questions     []FixtureQuestion
	StudentTokens []string
	// DocBytes is the size of the student exam document as served.
	DocBytes int
	// BareToken is an HS256 token the bare server accepts (bare-post).
	BareToken string
}

// FixtureQuestion is a question and every valid answer body for it.
type FixtureQuestion struct {
	ID     string
	Kind   string
	Bodies [][]byte // {"choices":[...]} for each valid choice set
}

// SetupConfig describes the data Setup creates through the API.
type SetupConfig struct {
	AdminEmail, AdminPassword string
	Students                  int
	Questions                 int
	// DocBytes is the target size of the student exam document (default 4096).
	DocBytes int
	// RunID makes emails and names unique (default: the time).
	RunID string
	// Parallel bounds concurrent user creations and logins (default 8).
	Parallel int
}

// Setup creates, through the HTTP API, a level, a doctor, the students and
// a published exam, and logs the students in. It then fetches the exam once
// as a student to check it and measure the document.
func Setup(ctx context.Context, c *http.Client, base string, s SetupConfig) (*Fixture, error) {
	s, err := s.withDefaults(base)
	if err != nil {
		return nil, err
	}
	api := &apiClient{c: c, base: strings.TrimSuffix(base, "/") + "/api/v1"}
	ppl, err := createPeople(ctx, api, s)
	if err != nil {
		return nil, err
	}
	questions, fq := examQuestions(s.Questions, s.DocBytes)
	examID, err := createExam(ctx, api, ppl, s.RunID, questions)
	if err != nil {
		return nil, err
	}
	tokens := make([]string, s.Students)
	if err := parallel(ctx, s.Students, s.Parallel, func(i int) error {
		t, err := api.login(ctx, ppl.emails[i], ppl.password)
		tokens[i] = t
		return err
	}); err != nil {
		return nil, fmt.Errorf("student login: %w", err)
	}

	// The first fetch renders and caches the student document.
	doc, err := api.raw(ctx, http.MethodGet, "/exams/"+examID, tokens[0], nil)
	if err != nil {
		return nil, fmt.Errorf("student fetch: %w", err)
	}
	if bytes.Contains(doc, []byte(`"correct"`)) {
		return nil, errors.New("the student document contains answer keys")
	}
	return &Fixture{ExamID: examID, LevelID: ppl.levelID, Questions: fq, StudentTokens: tokens, DocBytes: len(doc)}, nil
}

// withDefaults checks the configuration and fills in its defaults.
func (s SetupConfig) withDefaults(base string) (SetupConfig, error) {
	if _, err := CheckLoopback(base); err != nil {
		return s, err
	}
	if s.AdminEmail == "" || s.AdminPassword == "" {
		return s, errors.New("setup needs the admin email and password")
	}
	if s.Students < 1 || s.Students > 10_000 {
		return s, errors.New("students must be in 1..10000")
	}
	if s.Questions < 1 || s.Questions > 200 {
		return s, errors.New("questions must be in 1..200")
	}
	if s.DocBytes <= 0 {
		s.DocBytes = 4096
	}
	if s.RunID == "" {
		s.RunID = fmt.Sprintf("%x", time.Now().UnixNano())
	}
	if s.Parallel <= 0 {
		s.Parallel = 8
	}
	return s, nil
}

// people is what createPeople made: a level, its doctor (logged in) and its
// students, all with one password.
type people struct {
	levelID     string
	doctorToken string
	emails      []string
	password    string
}

// createPeople creates, through the API, a level, a doctor and the students.
func createPeople(ctx context.Context, api *apiClient, s SetupConfig) (*people, error) {
	admin, err := api.login(ctx, s.AdminEmail, s.AdminPassword)
	if err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}
	var level struct{ ID string }
	if err := api.call(ctx, http.MethodPost, "/levels", admin, map[string]any{"name": "examload " + s.RunID}, &level); err != nil {
		return nil, fmt.Errorf("create level: %w", err)
	}
	doctorEmail, password := "doctor-"+s.RunID+"@examload.test", "examload-"+s.RunID
	if err := api.call(ctx, http.MethodPost, "/users", admin, map[string]any{
		"email": doctorEmail, "password": password, "full_name": "Load Doctor", "role": "doctor", "subject": "Load testing",
	}, nil); err != nil {
		return nil, fmt.Errorf("create doctor: %w", err)
	}
	emails := make([]string, s.Students)
	for i := range emails {
		emails[i] = fmt.Sprintf("s%05d-%s@examload.test", i, s.RunID)
	}
	if err := parallel(ctx, s.Students, s.Parallel, func(i int) error {
		return api.call(ctx, http.MethodPost, "/users", admin, map[string]any{
			"email": emails[i], "password": password, "full_name": fmt.Sprintf("Load Student %d", i),
			"role": "student", "level_id": level.ID, "id_number": fmt.Sprintf("LD-%05d", i),
		}, nil)
	}); err != nil {
		return nil, fmt.Errorf("create students: %w", err)
	}
	doctor, err := api.login(ctx, doctorEmail, password)
	if err != nil {
		return nil, fmt.Errorf("doctor login: %w", err)
	}
	return &people{levelID: level.ID, doctorToken: doctor, emails: emails, password: password}, nil
}

// createExam drafts and publishes the exam as the doctor.
func createExam(ctx context.Context, api *apiClient, p *people, runID string, questions []map[string]any) (string, error) {
	var exam struct {
		ID     string
		Status string
	}
	if err := api.call(ctx, http.MethodPost, "/exams", p.doctorToken, map[string]any{
		"title": "Load exam " + runID, "level_id": p.levelID,
		"description": "An exam created by examload to measure the answer and fetch paths.",
		"questions":   questions,
	}, &exam); err != nil {
		return "", fmt.Errorf("create exam: %w", err)
	}
	if err := api.call(ctx, http.MethodPost, "/exams/"+exam.ID+"/publish", p.doctorToken, nil, &exam); err != nil {
		return "", fmt.Errorf("publish exam: %w", err)
	}
	if exam.Status != "open" {
		return "", fmt.Errorf("published exam is %q, want open", exam.Status)
	}
	return exam.ID, nil
}

// examQuestions builds q questions (single, multiple and true/false in
// turn) whose texts are padded so the student document is about docBytes,
// and every valid answer body for each.
func examQuestions(q, docBytes int) ([]map[string]any, []FixtureQuestion) {
	// Sizes of the student view (API.md): the exam's own fields with UUIDs
	// and times take about 420 bytes; a question with four short choices
	// about 230 bytes besides its text, a true/false one about 150.
	const examOverhead, choiceQuestion, tfQuestion = 420, 230, 150
	fixed := examOverhead
	for i := range q {
		if i%3 == 2 {
			fixed += tfQuestion
		} else {
			fixed += choiceQuestion
		}
	}
	textLen := max((docBytes-fixed)/q, 20)
	const filler = "Which of the following statements about the cell cycle, membranes, enzymes and energy is supported by the evidence given in the figure? "
	text := func(i int) string {
		t := fmt.Sprintf("Q%d. ", i+1)
		for len(t) < textLen {
			t += filler
		}
		return t[:textLen]
	}
	choices := []map[string]string{{"text": "Mitochondrion"}, {"text": "Golgi body"}, {"text": "Ribosome"}, {"text": "Lysosome"}}
	keys := []string{"a", "b", "c", "d"}
	in := make([]map[string]any, q)
	out := make([]FixtureQuestion, q)
	for i := range q {
		id := fmt.Sprintf("q%02d", i+1)
		fqn := FixtureQuestion{ID: id}
		switch i % 3 {
		case 0:
			fqn.Kind = "single"
			in[i] = map[string]any{"id": id, "text": text(i), "kind": "single", "choices": choices, "correct": []string{"b"}}
			for _, k := range keys {
				fqn.Bodies = append(fqn.Bodies, answerBody(k))
			}
		case 1:
			fqn.Kind = "multiple"
			in[i] = map[string]any{"id": id, "text": text(i), "kind": "multiple", "choices": choices, "correct": []string{"a", "c"}, "points": 2}
			for mask := 1; mask < 1<<len(keys); mask++ {
				var set []string
				for j, k := range keys {
					if mask&(1<<j) != 0 {
						set = append(set, k)
					}
				}
				fqn.Bodies = append(fqn.Bodies, answerBody(set...))
			}
		default:
			fqn.Kind = "true_false"
			in[i] = map[string]any{"id": id, "text": text(i), "kind": "true_false", "correct": []string{"true"}}
			fqn.Bodies = append(fqn.Bodies, answerBody("true"), answerBody("false"))
		}
		out[i] = fqn
	}
	return in, out
}

func answerBody(choices ...string) []byte {
	b, _ := json.Marshal(map[string][]string{"choices": choices})
	return b
}

// parallel runs f(0..n-1) with at most p at a time and returns the first error.
func parallel(ctx context.Context, n, p int, f func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, p)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// apiClient makes the setup calls.
type apiClient struct {
	c    *http.Client
	base string
}

func (a *apiClient) login(ctx context.Context, email, password string) (string, error) {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := a.call(ctx, http.MethodPost, "/auth/login", "", map[string]string{"email": email, "password": password}, &out); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", errors.New("login answered no access token")
	}
	return out.AccessToken, nil
}

// call sends a JSON request and decodes a 2xx JSON answer into out.
func (a *apiClient) call(ctx context.Context, method, path, token string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	raw, err := a.raw(ctx, method, path, token, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func (a *apiClient) raw(ctx context.Context, method, path, token string, body []byte) ([]byte, error) {
	status, raw, err := a.do(ctx, method, path, token, "", body)
	if err != nil {
		return nil, err
	}
	if status < 200 || status > 299 {
		if len(raw) > 300 {
			raw = raw[:300]
		}
		return nil, fmt.Errorf("%s %s: %d %s", method, path, status, bytes.TrimSpace(raw))
	}
	return raw, nil
}
