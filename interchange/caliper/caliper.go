// Package caliper maps the platform's events to IMS Caliper Analytics 1.2
// (www.imsglobal.org/spec/caliper/v1p2), for analytics stores that speak
// it (Canvas Live Events, Open edX event-routing-backends, any Caliper
// endpoint):
//
//	attempt.started.v1        AssessmentEvent      Started    (generated: the Attempt)
//	attempt.answer_saved.v1   AssessmentItemEvent  Completed  (generated: a MultipleResponseResponse)
//	attempt.submitted.v1      AssessmentEvent      Submitted  (generated: the Attempt)
//	grade.attempt_scored.v1   GradeEvent           Graded     (actor: the grader; generated: the Score)
//	grade.score_overridden.v1 GradeEvent           Graded     (actor: the doctor or admin; generated: the Score)
//
// Every other event maps to nothing. It is a pure function of an event:
// what to send, to whom (the key is the student's id: one partition per
// student, an attempt's events in their order), with the event's own id as the
// Caliper event id (urn:uuid:…), so a redelivered event (the bus is at
// least once) carries the same id and consumers drop the duplicate. The
// sending is the caller's (cmd/platform's Caliper projection).
//
// Identifiers are IRIs under Config.BaseURL: users/<id>, exams/<id>,
// exams/<id>/questions/<id>, exams/<id>/attempts/<id>, …/scores/<round>.
// No names, emails or answer texts leave the platform: only ids, choice
// keys, scores and times.
package caliper

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/examhall/exam/domain"
)

// Context is the Caliper 1.2 JSON-LD context IRI (also the envelope's
// dataVersion).
const Context = "http://purl.imsglobal.org/ctx/caliper/v1p2"

// Topic is the Kafka topic the envelopes go to.
const Topic = "exam.caliper"

// Config names the platform in Caliper terms.
type Config struct {
	// BaseURL is the platform's public base IRI, e.g.
	// https://exams.school.example (no trailing slash needed).
	BaseURL string
	// SensorID is the envelope's sensor IRI; BaseURL + "/sensors/caliper"
	// when empty.
	SensorID string
	// AttemptID names a student's attempt of an exam (commands.AttemptID):
	// overrides carry no attempt id.
	AttemptID func(examID, studentID string) string
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, errors.New("caliper: BaseURL must be an absolute http(s) URL"))
	}
	if c.AttemptID == nil {
		errs = append(errs, errors.New("caliper: AttemptID is required"))
	}
	return errors.Join(errs...)
}

// Source is one of our events, decoded (domain.DecodeEvent).
type Source struct {
	EventID    string
	Type       string
	OccurredAt time.Time
	ActorID    string
	ActorRole  string
	Payload    any
}

// Message is what to send for an event: the envelope and its key.
type Message struct {
	// Key is the student's id (the Kafka record key).
	Key      string
	Envelope Envelope
}

// Envelope is Caliper's transport wrapper (spec §5.1).
type Envelope struct {
	Sensor      string  `json:"sensor"`
	SendTime    string  `json:"sendTime"`
	DataVersion string  `json:"dataVersion"`
	Data        []Event `json:"data"`
}

// Event is a Caliper event (spec §4). Entities are inline objects.
type Event struct {
	Context    string         `json:"@context"`
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Profile    string         `json:"profile"`
	Actor      *Entity        `json:"actor"`
	Action     string         `json:"action"`
	Object     *Entity        `json:"object"`
	Generated  *Entity        `json:"generated,omitempty"`
	EventTime  string         `json:"eventTime"`
	EdApp      *Entity        `json:"edApp"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// Entity is the subset of Caliper entity properties we send.
type Entity struct {
	ID            string   `json:"id"`
	Type          string   `json:"type"`
	Name          string   `json:"name,omitempty"`
	IsPartOf      *Entity  `json:"isPartOf,omitempty"`
	Assignee      *Entity  `json:"assignee,omitempty"`
	Assignable    *Entity  `json:"assignable,omitempty"`
	Attempt       *Entity  `json:"attempt,omitempty"`
	Count         int      `json:"count,omitempty"`
	StartedAtTime string   `json:"startedAtTime,omitempty"`
	EndedAtTime   string   `json:"endedAtTime,omitempty"`
	Values        []string `json:"values,omitempty"`
	ScoreGiven    *float64 `json:"scoreGiven,omitempty"`
	MaxScore      *float64 `json:"maxScore,omitempty"`
	ScoredBy      string   `json:"scoredBy,omitempty"`
	Comment       string   `json:"comment,omitempty"`
}

// timeFormat is ISO 8601 with milliseconds in UTC, as the spec requires.
const timeFormat = "2006-01-02T15:04:05.000Z"

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

type iris struct{ base string }

func (c Config) iris() iris { return iris{strings.TrimRight(c.BaseURL, "/")} }

func (i iris) person(id string) *Entity {
	return &Entity{ID: i.base + "/users/" + url.PathEscape(id), Type: "Person"}
}
func (i iris) exam(id string) *Entity {
	return &Entity{ID: i.base + "/exams/" + url.PathEscape(id), Type: "Assessment"}
}
func (i iris) attempt(examID, attemptID string) string {
	return i.base + "/exams/" + url.PathEscape(examID) + "/attempts/" + url.PathEscape(attemptID)
}
func (i iris) app() *Entity    { return &Entity{ID: i.base, Type: "SoftwareApplication"} }
func (i iris) grader() *Entity { return &Entity{ID: i.base + "/grader", Type: "SoftwareApplication"} }

// Map turns one event into its Caliper message; false when the event has
// no Caliper counterpart. sendTime is when the envelope is made.
func Map(c Config, src Source, sendTime time.Time) (Message, bool, error) {
	ev, key, ok, err := event(c, src)
	if err != nil || !ok {
		return Message{}, false, err
	}
	sensor := c.SensorID
	if sensor == "" {
		sensor = c.iris().base + "/sensors/caliper"
	}
	return Message{Key: key, Envelope: Envelope{Sensor: sensor, SendTime: ts(sendTime), DataVersion: Context, Data: []Event{ev}}}, true, nil
}

func event(c Config, src Source) (Event, string, bool, error) {
	i := c.iris()
	base := Event{Context: Context, ID: "urn:uuid:" + strings.ToLower(src.EventID), EventTime: ts(src.OccurredAt), EdApp: i.app()}
	switch d := src.Payload.(type) {
	case *domain.AttemptStarted:
		base.Type, base.Profile, base.Action = "AssessmentEvent", "AssessmentProfile", "Started"
		base.Actor, base.Object = i.person(d.StudentID), i.exam(d.ExamID)
		base.Generated = &Entity{ID: i.attempt(d.ExamID, d.AttemptID), Type: "Attempt", Assignee: i.person(d.StudentID),
			Assignable: i.exam(d.ExamID), Count: 1, StartedAtTime: ts(d.StartedAt)}
		return base, d.StudentID, true, nil
	case *domain.AttemptSubmitted:
		base.Type, base.Profile, base.Action = "AssessmentEvent", "AssessmentProfile", "Submitted"
		base.Actor, base.Object = i.person(d.StudentID), i.exam(d.ExamID)
		base.Generated = &Entity{ID: i.attempt(d.ExamID, d.AttemptID), Type: "Attempt", Assignee: i.person(d.StudentID),
			Assignable: i.exam(d.ExamID), Count: 1, EndedAtTime: ts(d.SubmittedAt)}
		return base, d.StudentID, true, nil
	case *domain.AnswerSaved:
		base.Type, base.Profile, base.Action = "AssessmentItemEvent", "AssessmentProfile", "Completed"
		item := &Entity{ID: i.base + "/exams/" + url.PathEscape(d.ExamID) + "/questions/" + url.PathEscape(d.QuestionID),
			Type: "AssessmentItem", IsPartOf: i.exam(d.ExamID)}
		base.Actor, base.Object = i.person(d.StudentID), item
		attempt := i.attempt(d.ExamID, d.AttemptID)
		values := append([]string{}, d.Choices...)
		base.Generated = &Entity{ID: attempt + "/responses/" + url.PathEscape(d.QuestionID) + "/" + strings.ToLower(src.EventID),
			Type: "MultipleResponseResponse", Attempt: &Entity{ID: attempt, Type: "Attempt", Assignee: i.person(d.StudentID), Assignable: i.exam(d.ExamID)},
			EndedAtTime: ts(d.SavedAt), Values: values}
		if len(values) == 0 {
			// A cleared answer: an empty response, said so.
			base.Extensions = map[string]any{"cleared": true}
		}
		return base, d.StudentID, true, nil
	case *domain.AttemptScored:
		base.Type, base.Profile, base.Action = "GradeEvent", "GradingProfile", "Graded"
		attempt := i.attempt(d.ExamID, d.AttemptID)
		base.Actor = i.grader()
		base.Object = &Entity{ID: attempt, Type: "Attempt", Assignee: i.person(d.StudentID), Assignable: i.exam(d.ExamID), Count: 1}
		base.Generated = score(attempt, fmt.Sprintf("%d", d.Round), d.Score, d.MaxScore, i.grader().ID, "")
		return base, d.StudentID, true, nil
	case *domain.ScoreOverridden:
		if c.AttemptID == nil {
			return Event{}, "", false, errors.New("caliper: AttemptID is required to map overrides")
		}
		base.Type, base.Profile, base.Action = "GradeEvent", "GradingProfile", "Graded"
		attempt := i.attempt(d.ExamID, c.AttemptID(d.ExamID, d.StudentID))
		actor := i.person(src.ActorID)
		base.Actor = actor
		base.Object = &Entity{ID: attempt, Type: "Attempt", Assignee: i.person(d.StudentID), Assignable: i.exam(d.ExamID), Count: 1}
		base.Generated = score(attempt, "override-"+strings.ToLower(src.EventID), d.Score, d.MaxScore, actor.ID, "manual override ("+d.Source+")")
		return base, d.StudentID, true, nil
	}
	return Event{}, "", false, nil
}

func score(attempt, name string, given, max float64, by, comment string) *Entity {
	g, m := given, max
	return &Entity{ID: attempt + "/scores/" + url.PathEscape(name), Type: "Score", Attempt: &Entity{ID: attempt, Type: "Attempt"},
		ScoreGiven: &g, MaxScore: &m, ScoredBy: by, Comment: comment}
}
