package platform_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/cmd/platform"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/google/uuid"
	"github.com/xuri/excelize/v2"
)

// An exam of 2,000 attempts on the distributed adapters (PostgreSQL event
// store, Kafka, PostgreSQL read models), where the exam's status comes from
// its own stream and the results from a projector in another consumer
// group: from the close on, every time the exam reads graded, its results —
// JSON, CSV and XLSX — list every attempt, or the request answers 503; never
// a shorter table (issue 11: 315 of 2,000 were listed before the fix).
func TestGradedResultsAreNeverPartialAt2000Attempts(t *testing.T) {
	const attempts = 2000
	ctx := context.Background()
	_, open := distributedStack(t, "np", "")
	api := open(platform.RoleAPI)
	open(platform.RoleRelay, platform.RoleProjector, platform.RoleGrader, platform.RoleScheduler)
	srv := httptest.NewServer(api.Handler)
	t.Cleanup(srv.Close)
	c := client{t: t, url: srv.URL}

	admin := c.login("admin@school.test", "admin-pass-1")
	level := c.must(201, "POST", "/levels", admin, map[string]string{"name": "Year 12"})["id"].(string)
	c.must(201, "POST", "/users", admin, map[string]any{"email": "doc@school.test", "password": "doctor-pass-1", "full_name": "Dr. Amal", "role": "doctor", "subject": "Biology"})
	doctor := c.login("doc@school.test", "doctor-pass-1")
	exam := c.must(201, "POST", "/exams", doctor, map[string]any{"title": "Big exam", "level_id": level, "questions": []map[string]any{
		{"id": "q1", "text": "Powerhouse?", "kind": "single", "choices": []map[string]string{{"text": "Nucleus"}, {"text": "Mitochondrion"}}, "correct": []string{"b"}},
	}})["id"].(string)
	c.must(200, "POST", "/exams/"+exam+"/publish", doctor, nil)

	// The attempts go straight through the commands (the write side the
	// API calls): 2,000 students answering, without 2,000 logins.
	var wg sync.WaitGroup
	errs := make(chan error, attempts)
	sem := make(chan struct{}, 16)
	for i := range attempts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			student := domain.Actor{ID: uuid.NewString(), Role: domain.RoleStudent, LevelID: level}
			choice := []string{"a", "b"}[i%2]
			if _, err := api.Commands.SaveAnswers.Handle(ctx, commands.Meta{Actor: student}, exam,
				[]domain.AnswerInput{{QuestionID: "q1", Choices: []string{choice}}}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("answer: %v", err)
	}

	c.must(202, "POST", "/exams/"+exam+"/close", doctor, nil)
	deadline := time.Now().Add(90 * time.Second)
	var graded, complete, unavailable int
	for complete == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no complete results 90 s after the close (graded seen %d times, 503 %d times)", graded, unavailable)
		}
		_, view := c.call("GET", "/exams/"+exam, doctor, nil)
		if view["status"] != "graded" {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		graded++
		for _, format := range []string{"json", "csv", "xlsx"} {
			status, rows := resultRows(t, srv.URL, exam, doctor, format)
			switch {
			case status == http.StatusServiceUnavailable:
				unavailable++
			case status != http.StatusOK:
				t.Fatalf("results as %s: %d", format, status)
			case rows != attempts:
				t.Fatalf("the exam reads graded but its %s results list %d of %d attempts", format, rows, attempts)
			default:
				complete++
			}
		}
	}
	t.Logf("graded seen %d times; complete tables %d; 503 while the read side caught up %d", graded, complete, unavailable)
}

// resultRows fetches the results in a format and counts their rows.
func resultRows(t *testing.T, base, exam, token, format string) (int, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/exams/"+exam+"/results?format="+format, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp.StatusCode, 0
	}
	switch format {
	case "csv":
		recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v", err)
		}
		return resp.StatusCode, len(recs) - 1 // the header
	case "xlsx":
		f, err := excelize.OpenReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("xlsx: %v", err)
		}
		defer f.Close()
		rows, err := f.GetRows(f.GetSheetList()[0])
		if err != nil {
			t.Fatalf("xlsx rows: %v", err)
		}
		return resp.StatusCode, len(rows) - 1
	default:
		var out struct{ Items []map[string]any }
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("json: %v", err)
		}
		return resp.StatusCode, len(out.Items)
	}
}
