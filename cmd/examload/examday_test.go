package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The whole exam day against a real embedded platform: the audit must
// pass, and the report must show that the day really happened (every phase
// ran, retries were made and answered identically, results were listed).
func TestExamDayAuditPassesOnEmbedded(t *testing.T) {
	_, base := startPlatform(t)
	client := NewClient(16)
	defer client.CloseIdleConnections()
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := RunExamDay(ctx, client, ExamDayConfig{
		Base: base, AdminEmail: adminEmail, AdminPassword: adminPassword,
		Students: 40, Questions: 6, Connections: 16, Stagger: 200 * time.Millisecond, Cadence: 2 * time.Millisecond,
		ChangeRate: 0.5, BatchRate: 0.3, RetryRate: 0.3, SubmitRate: 0.5, Seed: 7, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("exam day: %v\naudit: %+v\nerrors: %v", err, rep.Audit, rep.Errors)
	}
	a := rep.Audit
	if a.Attempts != 40 || a.Listed != 40 || a.CSVRows != 40 {
		t.Fatalf("attempts %d, listed %d, csv rows %d; want 40 each", a.Attempts, a.Listed, a.CSVRows)
	}
	if a.Answers != 40*6 {
		t.Fatalf("acknowledged answers = %d, want every question of every student (240); errors %v, samples %v", a.Answers, rep.Errors, a.Samples)
	}
	if a.Retried == 0 || a.Submitted == 0 || a.Submitted == 40 {
		t.Fatalf("retried %d, submitted %d: the day did not exercise retries and a partial submit", a.Retried, a.Submitted)
	}
	for _, phase := range []string{PhaseLogin, PhaseStart, PhaseSave, PhaseBatchSave, PhaseRetry, PhaseSubmit, PhaseClose, PhasePoll, PhaseResult} {
		if p := rep.Phases[phase]; p == nil || p.OK == 0 || p.Latency.P99 <= 0 {
			t.Fatalf("phase %s: %+v", phase, p)
		}
	}
	if rep.CloseToAllResults <= 0 || rep.CloseToGraded <= 0 {
		t.Fatalf("close → graded %v, close → all results %v", rep.CloseToGraded, rep.CloseToAllResults)
	}
	if !strings.Contains(progress.String(), "examday exam") {
		t.Fatalf("no progress line: %q", progress.String())
	}
}

// The audit's scoring is the platform's rule written out again; pin it on
// hand-computed cases so the audit itself cannot drift.
func TestExpectedScore(t *testing.T) {
	key := map[string]keyEntry{
		"s": {kind: "single", correct: []string{"b"}, points: 1},
		"m": {kind: "multiple", correct: []string{"a", "c"}, points: 2},
		"t": {kind: "true_false", correct: []string{"true"}, points: 1},
	}
	cases := []struct {
		name    string
		answers map[string][]string
		want    float64
	}{
		{"nothing answered", map[string][]string{}, 0},
		{"all right", map[string][]string{"s": {"b"}, "m": {"c", "a"}, "t": {"true"}}, 4},
		{"single wrong", map[string][]string{"s": {"a"}}, 0},
		{"multiple half", map[string][]string{"m": {"a"}}, 1},
		{"multiple right and wrong cancel", map[string][]string{"m": {"a", "b"}}, 0},
		{"multiple more wrong than right floors at 0", map[string][]string{"m": {"a", "b", "d"}, "t": {"true"}}, 1},
		{"true/false wrong", map[string][]string{"t": {"false"}}, 0},
	}
	for _, c := range cases {
		if got := expectedScore(key, c.answers); !near(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
