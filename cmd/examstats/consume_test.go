package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/examhall/exam/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
)

// syncBuffer is an io.Writer the test may read while Consume writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stream builds the records of the platform's event log, one stream at a
// time, with the payload types the platform itself stores.
type stream struct {
	t       *testing.T
	pos     *uint64
	id      string
	version int64
	records []eventstore.Record
}

func (s *stream) add(typ string, payload any) {
	s.t.Helper()
	data, err := json.Marshal(payload)
	if err != nil {
		s.t.Fatal(err)
	}
	s.version++
	*s.pos++
	s.records = append(s.records, eventstore.Record{
		EventID: fmt.Sprintf("00000000-0000-4000-8000-%012d", *s.pos), StreamID: s.id, Version: s.version,
		Position: *s.pos, Type: typ, OccurredAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(*s.pos) * time.Second),
		ActorID: "u1", ActorRole: "student", CorrelationID: "req", Data: data,
	})
}

// publish sends records the way the relay does: relay.EncodeMessage
// through the kafkabus publisher, to the topic for the category.
func publish(t *testing.T, pub message.Publisher, topics map[string]string, records []eventstore.Record) {
	t.Helper()
	for _, r := range records {
		topic := topics[eventstore.Category(r.StreamID)]
		if err := pub.Publish(topic, relay.EncodeMessage(r)); err != nil {
			t.Fatalf("publish %s v%d: %v", r.StreamID, r.Version, err)
		}
	}
}

// TestMain stops the real Kafka broker kafkatest.Brokers started, if any.
func TestMain(m *testing.M) { os.Exit(kafkatest.Main(m)) }

// On kfake with the platform's topic names, and on the real Apache Kafka
// broker (shared: topics and group of the test's own, passed as -exams-topic
// and -attempts-topic would be).
func TestConsumeReadsWhatTheRelayPublishes(t *testing.T) {
	t.Parallel()
	if relay.DefaultTopics["exam"] != defaultExamsTopic || relay.DefaultTopics["attempt"] != defaultAttemptsTopic {
		t.Fatalf("examstats reads %s and %s, the relay publishes to %v", defaultExamsTopic, defaultAttemptsTopic, relay.DefaultTopics)
	}
	t.Run("kfake", func(t *testing.T) {
		t.Parallel()
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cluster.Close)
		consumeReadsWhatTheRelayPublishes(t, cluster.ListenAddrs(), defaultExamsTopic, defaultAttemptsTopic, "examstats-test")
	})
	t.Run("kafka", func(t *testing.T) {
		t.Parallel()
		consumeReadsWhatTheRelayPublishes(t, kafkatest.Brokers(t), kafkatest.Name(t, defaultExamsTopic),
			kafkatest.Name(t, defaultAttemptsTopic), kafkatest.Name(t, "examstats-test"))
	})
}

func consumeReadsWhatTheRelayPublishes(t *testing.T, brokers []string, examsTopic, attemptsTopic, group string) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := kafkabus.EnsureTopics(ctx, brokers, []string{examsTopic, attemptsTopic}, 3); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.WaitLeaders(brokers, 30*time.Second, examsTopic, attemptsTopic); err != nil {
		t.Fatal(err)
	}
	topics := map[string]string{"exam": examsTopic, "attempt": attemptsTopic}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })

	var pos uint64
	newStream := func(id string) *stream { return &stream{t: t, pos: &pos, id: id} }
	q1 := domain.Question{ID: "q1", Text: "2+2?", Kind: domain.KindSingle, Points: 1, Correct: []string{"b"},
		Choices: []domain.Choice{{Key: "a", Text: "3"}, {Key: "b", Text: "4"}, {Key: "c", Text: "5"}}}
	q2 := domain.Question{ID: "q2", Text: "Primes?", Kind: domain.KindMultiple, Points: 1, Correct: []string{"a", "b"},
		Choices: []domain.Choice{{Key: "a", Text: "2"}, {Key: "b", Text: "3"}, {Key: "c", Text: "4"}}}
	exam := newStream("exam-e1")
	exam.add(domain.TypeExamDrafted, domain.ExamDrafted{ExamID: "e1", Title: "Midterm", Questions: []domain.Question{q1}})
	exam.add(domain.TypeQuestionAdded, domain.QuestionAdded{ExamID: "e1", Question: q2})
	exam.add(domain.TypeExamPublished, domain.ExamPublished{ExamID: "e1", Status: domain.StatusOpen})
	other := newStream("exam-e2") // filtered out by -exam
	other.add(domain.TypeExamDrafted, domain.ExamDrafted{ExamID: "e2", Title: "Other", Questions: []domain.Question{q1}})

	answer := func(s *stream, exam, q string, choices ...string) {
		s.add(domain.TypeAnswerSaved, domain.AnswerSaved{AttemptID: strings.TrimPrefix(s.id, "attempt-"), ExamID: exam,
			StudentID: "s", QuestionID: q, Choices: append([]string{}, choices...), SavedAt: time.Now().UTC()})
	}
	t1, t2, t3, t9 := newStream("attempt-t1"), newStream("attempt-t2"), newStream("attempt-t3"), newStream("attempt-t9")
	t1.add(domain.TypeAttemptStarted, domain.AttemptStarted{AttemptID: "t1", ExamID: "e1", StudentID: "s"})
	answer(t1, "e1", "q1", "a")
	answer(t1, "e1", "q1", "b") // changed: counts once, for b
	answer(t1, "e1", "q2", "a", "b")
	answer(t2, "e1", "q1", "b")
	answer(t2, "e1", "q2", "a")
	answer(t3, "e1", "q1", "c")
	answer(t3, "e1", "q1") // cleared
	answer(t9, "e2", "q1", "a")
	t1.add(domain.TypeAttemptSubmitted, domain.AttemptSubmitted{AttemptID: "t1", ExamID: "e1", StudentID: "s"})

	// Answers first: the consumer must cope with them arriving before the exam.
	for _, s := range []*stream{t1, t2, t3, t9, exam, other} {
		publish(t, pub, topics, s.records)
	}

	stats, out := NewStats("e1"), &syncBuffer{}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Consume(runCtx, Config{Brokers: brokers, Group: group, ExamID: "e1", ExamsTopic: examsTopic, AttemptsTopic: attemptsTopic,
			Interval: 50 * time.Millisecond, Logger: quiet}, stats, out)
	}()

	const want = "e1/q1/a=0/2 e1/q1/b=2/2 e1/q1/c=0/2 e1/q2/a=2/2 e1/q2/b=1/2 e1/q2/c=0/2"
	for got := ""; got != want; got = dist(stats.Rows()) {
		select {
		case err := <-done:
			t.Fatalf("Consume returned early: %v", err)
		case <-ctx.Done():
			t.Fatalf("distribution\n got %s\nwant %s", got, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Answers published after the table is up move it live.
	answer(t2, "e1", "q1", "a")
	publish(t, pub, topics, t2.records[len(t2.records)-1:])
	for got := ""; !strings.HasPrefix(got, "e1/q1/a=1/2 e1/q1/b=1/2 "); got = dist(stats.Rows()) {
		select {
		case <-ctx.Done():
			t.Fatalf("a changed answer was not counted: %s", got)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// And it is printed.
	for !strings.Contains(out.String(), "50.0%") {
		select {
		case <-ctx.Done():
			t.Fatalf("no table printed with the new counts:\n%s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if s := out.String(); !strings.Contains(s, `exam e1 "Midterm"`) || !strings.Contains(s, "q2 Primes?") || strings.Contains(s, "e2") {
		t.Fatalf("printed tables:\n%s", s)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Consume: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Consume did not stop when its context ended")
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{"EXAM_KAFKA_BROKERS": " k1:9092, k2:9092 ", "EXAM_STATS_INTERVAL": "2s"}
	cfg, err := parseFlags([]string{"-exam", "e1"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Brokers, " ") != "k1:9092 k2:9092" || cfg.Group != "examstats" || cfg.ExamID != "e1" || cfg.Interval != 2*time.Second {
		t.Fatalf("config %+v", cfg)
	}
	cfg, err = parseFlags([]string{"-brokers", "x:1", "-group", "", "-interval", "1m"}, func(k string) string { return env[k] })
	if err != nil || cfg.Brokers[0] != "x:1" || len(cfg.Brokers) != 1 || cfg.Group != "" || cfg.Interval != time.Minute {
		t.Fatalf("flags over env: %+v, %v", cfg, err)
	}
	_, err = parseFlags([]string{"-interval", "0s"}, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "broker") || !strings.Contains(err.Error(), "interval") {
		t.Fatalf("want both problems reported, got %v", err)
	}
}

// The point of this example is that any Kafka client can read the events:
// it must not depend on the platform's code or on watermill.
func TestExamstatsUsesOnlyTheContract(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	out, err := exec.CommandContext(t.Context(), goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/examhall/exam/cmd/examstats" {
			continue
		}
		if strings.HasPrefix(p, "github.com/examhall/") || strings.Contains(p, "watermill") {
			t.Errorf("examstats depends on %s", p)
		}
	}
}
