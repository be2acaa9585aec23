package caliper

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
)

var (
	t0  = time.Date(2026, 5, 4, 9, 0, 0, 123_000_000, time.UTC)
	cfg = Config{BaseURL: "https://exams.school.example/", AttemptID: func(e, s string) string { return "att-" + e + "-" + s }}
)

// The Caliper 1.2 rules the envelopes must meet (spec §4 Event, §5.1
// Envelope, and the event and entity definitions of the Assessment and
// Grading profiles): required properties, the actions each event type
// allows, the types of actor, object and generated.
var (
	uuidURN   = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	dateTime  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)
	eventRule = map[string]struct {
		actors, actions, objects, generated []string
	}{
		"AssessmentEvent":     {[]string{"Person"}, []string{"Started", "Paused", "Resumed", "Restarted", "Reset", "Submitted"}, []string{"Assessment"}, []string{"Attempt"}},
		"AssessmentItemEvent": {[]string{"Person"}, []string{"Started", "Skipped", "Completed"}, []string{"AssessmentItem"}, []string{"Response", "FillinBlankResponse", "MultipleChoiceResponse", "MultipleResponseResponse", "SelectTextResponse", "TrueFalseResponse"}},
		"GradeEvent":          {[]string{"Person", "SoftwareApplication", "Agent"}, []string{"Graded"}, []string{"Attempt"}, []string{"Score"}},
	}
	profileOf = map[string]string{"AssessmentEvent": "AssessmentProfile", "AssessmentItemEvent": "AssessmentProfile", "GradeEvent": "GradingProfile"}
)

func isIRI(s string) bool {
	if strings.HasPrefix(s, "urn:") {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && u.Host != ""
}

// validateEntity checks an entity's required id (an IRI) and type.
func validateEntity(t *testing.T, where string, v any, types []string) map[string]any {
	t.Helper()
	e, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: not an entity object: %v", where, v)
	}
	id, _ := e["id"].(string)
	typ, _ := e["type"].(string)
	if !isIRI(id) {
		t.Errorf("%s: id %q is not an IRI", where, id)
	}
	if typ == "" || (types != nil && !slices.Contains(types, typ)) {
		t.Errorf("%s: type %q, want one of %v", where, typ, types)
	}
	for _, k := range []string{"startedAtTime", "endedAtTime", "dateCreated"} {
		if s, ok := e[k].(string); ok && !dateTime.MatchString(s) {
			t.Errorf("%s.%s %q is not an ISO 8601 UTC time with milliseconds", where, k, s)
		}
	}
	return e
}

// validateEnvelope checks the JSON a consumer receives.
func validateEnvelope(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	if s, _ := env["sensor"].(string); !isIRI(s) {
		t.Errorf("envelope sensor %v is not an IRI", env["sensor"])
	}
	if s, _ := env["sendTime"].(string); !dateTime.MatchString(s) {
		t.Errorf("envelope sendTime %v", env["sendTime"])
	}
	if env["dataVersion"] != Context {
		t.Errorf("dataVersion %v", env["dataVersion"])
	}
	events, _ := env["data"].([]any)
	if len(events) != 1 {
		t.Fatalf("data holds %d events", len(events))
	}
	ev := events[0].(map[string]any)
	if ev["@context"] != Context {
		t.Errorf("@context %v", ev["@context"])
	}
	if id, _ := ev["id"].(string); !uuidURN.MatchString(id) {
		t.Errorf("event id %q is not a urn:uuid", id)
	}
	typ, _ := ev["type"].(string)
	rule, ok := eventRule[typ]
	if !ok {
		t.Fatalf("event type %q", typ)
	}
	if ev["profile"] != profileOf[typ] {
		t.Errorf("profile %v for %s", ev["profile"], typ)
	}
	if a, _ := ev["action"].(string); !slices.Contains(rule.actions, a) {
		t.Errorf("%s: action %q not allowed", typ, a)
	}
	if s, _ := ev["eventTime"].(string); !dateTime.MatchString(s) {
		t.Errorf("eventTime %v", ev["eventTime"])
	}
	validateEntity(t, "actor", ev["actor"], rule.actors)
	validateEntity(t, "object", ev["object"], rule.objects)
	validateEntity(t, "edApp", ev["edApp"], []string{"SoftwareApplication"})
	if g, ok := ev["generated"]; ok {
		gen := validateEntity(t, "generated", g, rule.generated)
		for _, k := range []string{"attempt", "assignee", "assignable", "isPartOf"} {
			if sub, ok := gen[k]; ok {
				validateEntity(t, "generated."+k, sub, nil)
			}
		}
	}
	return ev
}

func sources() []Source {
	const exam, student, attempt = "e1", "s1", "a1"
	return []Source{
		{EventID: "11111111-1111-4111-8111-111111111111", Type: domain.TypeAttemptStarted, OccurredAt: t0, ActorID: student, ActorRole: "student",
			Payload: &domain.AttemptStarted{AttemptID: attempt, ExamID: exam, StudentID: student, StartedAt: t0}},
		{EventID: "22222222-2222-4222-8222-222222222222", Type: domain.TypeAnswerSaved, OccurredAt: t0.Add(time.Minute), ActorID: student, ActorRole: "student",
			Payload: &domain.AnswerSaved{AttemptID: attempt, ExamID: exam, StudentID: student, QuestionID: "q1", Choices: []string{"b"}, SavedAt: t0.Add(time.Minute)}},
		{EventID: "33333333-3333-4333-8333-333333333333", Type: domain.TypeAttemptSubmitted, OccurredAt: t0.Add(time.Hour), ActorID: student, ActorRole: "student",
			Payload: &domain.AttemptSubmitted{AttemptID: attempt, ExamID: exam, StudentID: student, SubmittedAt: t0.Add(time.Hour)}},
		{EventID: "44444444-4444-4444-8444-444444444444", Type: domain.TypeAttemptScored, OccurredAt: t0.Add(2 * time.Hour), ActorID: "system", ActorRole: "system",
			Payload: &domain.AttemptScored{ExamID: exam, AttemptID: attempt, StudentID: student, Round: 1, Score: 6.5, MaxScore: 8}},
		{EventID: "55555555-5555-4555-8555-555555555555", Type: domain.TypeScoreOverridden, OccurredAt: t0.Add(3 * time.Hour), ActorID: "d1", ActorRole: "doctor",
			Payload: &domain.ScoreOverridden{ExamID: exam, StudentID: student, Score: 7, MaxScore: 8, Source: "import"}},
	}
}

func TestMap(t *testing.T) {
	t.Parallel()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []struct{ typ, action, object, generated string }{
		{"AssessmentEvent", "Started", "https://exams.school.example/exams/e1", "https://exams.school.example/exams/e1/attempts/a1"},
		{"AssessmentItemEvent", "Completed", "https://exams.school.example/exams/e1/questions/q1",
			"https://exams.school.example/exams/e1/attempts/a1/responses/q1/22222222-2222-4222-8222-222222222222"},
		{"AssessmentEvent", "Submitted", "https://exams.school.example/exams/e1", "https://exams.school.example/exams/e1/attempts/a1"},
		{"GradeEvent", "Graded", "https://exams.school.example/exams/e1/attempts/a1", "https://exams.school.example/exams/e1/attempts/a1/scores/1"},
		{"GradeEvent", "Graded", "https://exams.school.example/exams/e1/attempts/att-e1-s1",
			"https://exams.school.example/exams/e1/attempts/att-e1-s1/scores/override-55555555-5555-4555-8555-555555555555"},
	}
	for i, src := range sources() {
		t.Run(src.Type, func(t *testing.T) {
			msg, ok, err := Map(cfg, src, t0.Add(4*time.Hour))
			if err != nil || !ok {
				t.Fatalf("%v %v", ok, err)
			}
			if msg.Key != "s1" {
				t.Fatalf("key %q, want the student", msg.Key)
			}
			data, err := json.Marshal(msg.Envelope)
			if err != nil {
				t.Fatal(err)
			}
			ev := validateEnvelope(t, data)
			w := want[i]
			obj := ev["object"].(map[string]any)
			gen := ev["generated"].(map[string]any)
			if ev["type"] != w.typ || ev["action"] != w.action || obj["id"] != w.object || gen["id"] != w.generated {
				t.Fatalf("event %s", data)
			}
			if ev["id"] != "urn:uuid:"+src.EventID {
				t.Fatalf("id %v: the event's own id makes redeliveries recognisable", ev["id"])
			}
		})
	}
	t.Run("scores", func(t *testing.T) {
		msg, _, _ := Map(cfg, sources()[3], t0)
		g := msg.Envelope.Data[0].Generated
		if *g.ScoreGiven != 6.5 || *g.MaxScore != 8 || g.ScoredBy != "https://exams.school.example/grader" || msg.Envelope.Data[0].Actor.Type != "SoftwareApplication" {
			t.Fatalf("%+v", g)
		}
		msg, _, _ = Map(cfg, sources()[4], t0)
		if a := msg.Envelope.Data[0].Actor; a.ID != "https://exams.school.example/users/d1" || a.Type != "Person" {
			t.Fatalf("override actor %+v", a)
		}
	})
	t.Run("other events map to nothing", func(t *testing.T) {
		for _, p := range []any{&domain.ExamPublished{ExamID: "e1"}, &domain.UserRegistered{UserID: "u"}, &domain.PasswordSet{UserID: "u"}} {
			if _, ok, err := Map(cfg, Source{EventID: "x", Payload: p}, t0); ok || err != nil {
				t.Fatalf("%T mapped", p)
			}
		}
	})
	t.Run("nothing personal leaves", func(t *testing.T) {
		for _, src := range sources() {
			msg, _, _ := Map(cfg, src, t0)
			data, _ := json.Marshal(msg)
			data = []byte(strings.ReplaceAll(string(data), `"@context"`, ""))
			for _, leak := range []string{"@", "full_name", "email"} {
				if strings.Contains(string(data), leak) {
					t.Fatalf("%s carries %q: %s", src.Type, leak, data)
				}
			}
		}
	})
	t.Run("config", func(t *testing.T) {
		err := Config{BaseURL: "exams"}.Validate()
		if err == nil || !strings.Contains(err.Error(), "BaseURL") || !strings.Contains(err.Error(), "AttemptID") {
			t.Fatalf("%v", err)
		}
	})
}

// TestExampleEnvelope prints the envelope docs/events.md shows (go test -v
// -run TestExampleEnvelope ./interchange/caliper) and checks it is valid.
func TestExampleEnvelope(t *testing.T) {
	msg, _, _ := Map(cfg, sources()[1], t0.Add(time.Minute+time.Second))
	data, _ := json.MarshalIndent(msg.Envelope, "", "  ")
	validateEnvelope(t, data)
	if testing.Verbose() {
		fmt.Println(string(data))
	}
}
