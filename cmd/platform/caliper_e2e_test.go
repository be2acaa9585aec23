package platform_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/examhall/exam/auth"
	platform "github.com/examhall/exam/cmd/platform"
	"github.com/examhall/exam/interchange/caliper"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCaliperFeedOfAnExamDay: with EXAM_CALIPER=kafka, a Kafka consumer of
// exam.caliper reads a student's exam day as Caliper envelopes, keyed by
// the student: started, each saved answer, submitted, graded.
func TestCaliperFeedOfAnExamDay(t *testing.T) {
	ctx := context.Background()
	url := postgresURL()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("PostgreSQL is required (scripts/ensure-postgres.sh): %v", err)
	}
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	events, reads := "cal_ev_"+suffix, "cal_rm_"+suffix
	t.Cleanup(func() {
		for _, s := range []string{events, reads} {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+s+" CASCADE")
		}
		_ = conn.Close(context.Background())
	})
	kafka, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kafka.Close)
	cfg := platform.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.EventStore, cfg.EventStorePostgresURL, cfg.EventStorePostgresSchema = platform.EventStorePostgres, url, events
	cfg.ReadModelPostgresURL, cfg.ReadModelPostgresSchema = url, reads
	cfg.KafkaBrokers, cfg.KafkaPartitions = kafka.ListenAddrs(), 2
	cfg.Caliper, cfg.CaliperBaseURL = platform.CaliperKafka, "https://exams.school.test"
	cfg.JWTSecret = "shared-secret-of-at-least-32-characters!"
	cfg.AdminEmail, cfg.AdminPassword = "admin@school.test", "admin-pass-1"
	cfg.Argon2 = auth.TestArgon2Params()
	cfg.GraderReconcile = time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := platform.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	srv := httptest.NewServer(p.Handler)
	t.Cleanup(srv.Close)
	c := client{t: t, url: srv.URL}

	admin := c.login("admin@school.test", "admin-pass-1")
	level := c.must(201, "POST", "/levels", admin, map[string]string{"name": "Year 9"})["id"].(string)
	c.must(201, "POST", "/users", admin, map[string]any{"email": "doc@school.test", "password": "doctor-pass-1", "full_name": "Dr. Amal", "role": "doctor"})
	studentID := c.must(201, "POST", "/users", admin, map[string]any{"email": "s1@school.test", "password": "student-pass-1", "full_name": "Student One",
		"role": "student", "level_id": level})["id"].(string)
	doctor := c.login("doc@school.test", "doctor-pass-1")
	exam := c.must(201, "POST", "/exams", doctor, map[string]any{"title": "Cells", "level_id": level, "questions": []map[string]any{
		{"id": "q1", "text": "Powerhouse?", "kind": "single", "choices": []map[string]string{{"text": "Nucleus"}, {"text": "Mitochondrion"}}, "correct": []string{"b"}, "points": 2},
	}})["id"].(string)
	c.must(200, "POST", "/exams/"+exam+"/publish", doctor, nil)
	student := c.login("s1@school.test", "student-pass-1")
	c.must(201, "POST", "/exams/"+exam+"/attempt", student, nil)
	c.must(200, "PUT", "/exams/"+exam+"/answers/q1", student, map[string]any{"choices": []string{"b"}})
	c.must(200, "POST", "/exams/"+exam+"/submit", student, nil)
	c.must(202, "POST", "/exams/"+exam+"/close", doctor, nil)

	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.KafkaBrokers...), kgo.ConsumeTopics(caliper.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := []string{"AssessmentEvent Started", "AssessmentItemEvent Completed", "AssessmentEvent Submitted", "GradeEvent Graded"}
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) {
			if string(r.Key) != studentID {
				t.Errorf("record keyed %q, want the student %s", r.Key, studentID)
			}
			var env caliper.Envelope
			if err := json.Unmarshal(r.Value, &env); err != nil || len(env.Data) != 1 || env.DataVersion != caliper.Context {
				t.Errorf("not an envelope: %v %s", err, r.Value)
				return
			}
			ev := env.Data[0]
			if ev.Actor.ID != "https://exams.school.test/users/"+studentID && ev.Type != "GradeEvent" {
				t.Errorf("actor %s", ev.Actor.ID)
			}
			got = append(got, ev.Type+" "+ev.Action)
		})
	}
	// An attempt's envelopes come in its order; its grade (another stream,
	// another topic) may overtake them: consumers order by eventTime.
	var attempt []string
	for _, g := range got {
		if !strings.HasPrefix(g, "GradeEvent") {
			attempt = append(attempt, g)
		}
	}
	if !slices.Equal(attempt, want[:3]) || !slices.Contains(got, want[3]) || len(got) != len(want) {
		t.Fatalf("envelopes %v, want %v (the grade anywhere)", got, want)
	}
}
