package platform

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/interchange/caliper"
	"github.com/examhall/exam/projections"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func caliperRecord(t *testing.T) eventstore.Record {
	t.Helper()
	data, _ := json.Marshal(&domain.AnswerSaved{AttemptID: "a1", ExamID: "e1", StudentID: "s1", QuestionID: "q1", Choices: []string{"b"}, SavedAt: time.Unix(1e9, 0)})
	return eventstore.Record{EventID: "0b6c0c6e-1f0e-4c59-9a3c-6d8e1a2b3c4d", StreamID: "attempt-a1", Version: 2, Type: domain.TypeAnswerSaved,
		OccurredAt: time.Unix(1e9, 0), ActorID: "s1", ActorRole: "student", Data: data}
}

func caliperConfig(kind string) Config {
	c := Defaults()
	c.Caliper, c.CaliperBaseURL, c.Now = kind, "https://exams.school.test", func() time.Time { return time.Unix(2e9, 0) }
	return c
}

// TestCaliperHTTPSink: envelopes reach the endpoint with the token; an
// endpoint that fails makes the record fail (the runtime delivers it again);
// events Caliper has no word for send nothing.
func TestCaliperHTTPSink(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer sekrit" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", r.Header)
		}
		bodies = append(bodies, string(body))
		w.WriteHeader(status)
	}))
	defer srv.Close()
	cfg := caliperConfig(CaliperHTTP)
	cfg.CaliperEndpoint, cfg.CaliperToken = srv.URL, "sekrit"
	p, closeP, err := newCaliperProjection(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closeP()
	ctx := context.Background()
	if p.Name() != "caliper" || strings.Join(p.Categories(), ",") != "attempt,grades" {
		t.Fatalf("%s %v", p.Name(), p.Categories())
	}
	if err := p.Apply(ctx, delivered(t, caliperRecord(t))); err != nil {
		t.Fatal(err)
	}
	var env caliper.Envelope
	if err := json.Unmarshal([]byte(bodies[0]), &env); err != nil || env.Data[0].Type != "AssessmentItemEvent" ||
		env.Data[0].ID != "urn:uuid:0b6c0c6e-1f0e-4c59-9a3c-6d8e1a2b3c4d" || env.SendTime != "2033-05-18T03:33:20.000Z" {
		t.Fatalf("%v %s", err, bodies[0])
	}
	status = http.StatusServiceUnavailable
	if err := p.Apply(ctx, delivered(t, caliperRecord(t))); err == nil {
		t.Fatal("a failing endpoint must fail the record")
	}
	other := eventstore.Record{EventID: "x", Type: domain.TypeExamGraded, Data: []byte(`{"exam_id":"e1"}`)}
	if err := p.Apply(ctx, delivered(t, other)); err != nil || len(bodies) != 2 {
		t.Fatalf("%v, %d posts", err, len(bodies))
	}
}

// TestCaliperKafkaSink: envelopes land on exam.caliper keyed by the student.
func TestCaliperKafkaSink(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := caliperConfig(CaliperKafka)
	cfg.KafkaBrokers, cfg.KafkaPartitions = c.ListenAddrs(), 2
	p, closeP, err := newCaliperProjection(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closeP()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Apply(ctx, delivered(t, caliperRecord(t))); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.KafkaBrokers...), kgo.ConsumeTopics(caliper.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fetches := cl.PollFetches(ctx)
	if err := fetches.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fetches.Records()
	if len(recs) != 1 || string(recs[0].Key) != "s1" {
		t.Fatalf("%d records, key %q", len(recs), recs[0].Key)
	}
	var env caliper.Envelope
	if err := json.Unmarshal(recs[0].Value, &env); err != nil || env.DataVersion != caliper.Context || env.Data[0].Action != "Completed" {
		t.Fatalf("%v %s", err, recs[0].Value)
	}
}

func TestCaliperConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{"EXAM_CALIPER": "http", "EXAM_CALIPER_ENDPOINT": "ftp://x"}
	c, err := FromEnv(func(k string) string { return env[k] })
	if err == nil {
		err = c.Validate()
	}
	for _, want := range []string{"EXAM_CALIPER_ENDPOINT", "EXAM_CALIPER_BASE_URL", "EXAM_KAFKA_BROKERS"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	env = map[string]string{"EXAM_CALIPER": "carrier-pigeon"}
	c, _ = FromEnv(func(k string) string { return env[k] })
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "must be kafka or http") {
		t.Errorf("error %v", err)
	}
}

// delivered is a record as the runtime hands it over: decoded.
func delivered(t *testing.T, rec eventstore.Record) []projections.Delivered {
	t.Helper()
	data, err := domain.DecodeEvent(rec.Type, rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	return []projections.Delivered{{Record: rec, Data: data}}
}
