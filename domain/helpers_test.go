package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

// Shared fixtures for the domain tests. Every fold goes through JSON and
// DecodeEvent, the way events come back from the store, so a payload whose
// tags or types do not survive the wire breaks the rule tests too.

const (
	examID       = "exam-1"
	levelID      = "level-1"
	otherLevelID = "level-2"
)

var (
	// t0 is "now" for most tests: the moment exams get published.
	t0 = time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)

	admin            = Actor{ID: "admin-1", Role: RoleAdmin}
	owner            = Actor{ID: "doctor-1", Role: RoleDoctor}
	otherDoctor      = Actor{ID: "doctor-2", Role: RoleDoctor}
	student          = Actor{ID: "student-1", Role: RoleStudent, LevelID: levelID}
	classmate        = Actor{ID: "student-2", Role: RoleStudent, LevelID: levelID}
	foreignStudent   = Actor{ID: "student-9", Role: RoleStudent, LevelID: otherLevelID}
	levellessStudent = Actor{ID: "student-0", Role: RoleStudent}
	systemActor      = SystemActor("scheduler")
)

func ptr[T any](v T) *T { return &v }

// seqIDs returns a deterministic id generator: prefix1, prefix2, ...
func seqIDs(prefix string) func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("%s%d", prefix, n)
	}
}

// wire encodes an event's payload and decodes it back by its type, checking
// that the decider used the payload type registered for that event type.
func wire(t testing.TB, ev Event) any {
	t.Helper()
	b, err := json.Marshal(ev.Data)
	if err != nil {
		t.Fatalf("marshal %s: %v", ev.Type, err)
	}
	p, err := DecodeEvent(ev.Type, b)
	if err != nil {
		t.Fatalf("decode %s: %v", ev.Type, err)
	}
	if reflect.TypeOf(p) != reflect.TypeOf(ev.Data) {
		t.Fatalf("event %s carries %T, its registered payload is %T", ev.Type, ev.Data, p)
	}
	return p
}

func foldExam(t testing.TB, e *Exam, evs ...Event) {
	t.Helper()
	for _, ev := range evs {
		e.Apply(e.Version+1, wire(t, ev))
	}
}

func foldAttempt(t testing.TB, a *Attempt, evs ...Event) {
	t.Helper()
	for _, ev := range evs {
		a.Apply(a.Version+1, wire(t, ev))
	}
}

func foldUser(t testing.TB, u *User, evs ...Event) {
	t.Helper()
	for _, ev := range evs {
		u.Apply(u.Version+1, wire(t, ev))
	}
}

func foldSession(t testing.TB, s *Session, evs ...Event) {
	t.Helper()
	for _, ev := range evs {
		s.Apply(s.Version+1, wire(t, ev))
	}
}

func eventTypes(evs []Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func wantTypes(t testing.TB, evs []Event, want ...string) {
	t.Helper()
	if got := eventTypes(evs); !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
}

// wantErr checks err against want: nil means no error expected.
func wantErr(t testing.TB, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// validationFields returns the sorted field names of a ValidationError.
func validationFields(t testing.TB, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want a *ValidationError", err, err)
	}
	if !errors.Is(err, ErrValidation) {
		t.Fatalf("ValidationError does not match ErrValidation")
	}
	var fields []string
	for k := range ve.Fields {
		fields = append(fields, k)
	}
	slices.Sort(fields)
	return fields
}

// wantFields checks that err is a ValidationError naming exactly fields.
func wantFields(t testing.TB, err error, fields ...string) {
	t.Helper()
	got := validationFields(t, err)
	want := slices.Clone(fields)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("invalid fields = %v, want %v (error: %v)", got, want, err)
	}
}

// sampleQuestions: one of each kind.
//
//	q1 single      a,b,c   correct b        1 point
//	q2 multiple    a..e    correct a,b,c    3 points
//	q3 true_false          correct false    2 points, −0.5 when wrong
func sampleQuestions() []QuestionInput {
	return []QuestionInput{
		{ID: "q1", Text: "2 + 2 = ?", Kind: KindSingle,
			Choices: []Choice{{Text: "3"}, {Text: "4"}, {Text: "5"}}, Correct: []string{"b"}},
		{ID: "q2", Text: "Which are primes?", Kind: KindMultiple,
			Choices: []Choice{{Text: "2"}, {Text: "3"}, {Text: "5"}, {Text: "9"}, {Text: "15"}},
			Correct: []string{"a", "b", "c"}, Points: ptr(3.0)},
		{ID: "q3", Text: "The earth is flat.", Kind: KindTrueFalse,
			Correct: []string{"false"}, Points: ptr(2.0), NegativePoints: ptr(0.5)},
	}
}

func sampleDraft() ExamDraftInput {
	return ExamDraftInput{Title: "Arithmetic", Description: "Week 1", LevelID: levelID, Questions: sampleQuestions()}
}

// draftExam folds a draft made by owner the day before t0.
func draftExam(t testing.TB, edit ...func(*ExamDraftInput)) *Exam {
	t.Helper()
	in := sampleDraft()
	for _, f := range edit {
		f(&in)
	}
	evs, err := DraftExam(examID, owner, in, seqIDs("gen-"), t0.Add(-24*time.Hour))
	if err != nil {
		t.Fatalf("DraftExam: %v", err)
	}
	e := &Exam{}
	foldExam(t, e, evs...)
	return e
}

// publishedExam drafts and publishes at t0.
func publishedExam(t testing.TB, edit ...func(*ExamDraftInput)) *Exam {
	t.Helper()
	e := draftExam(t, edit...)
	evs, err := e.Publish(owner, t0)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	foldExam(t, e, evs...)
	return e
}

func closeExam(t testing.TB, e *Exam, at time.Time) {
	t.Helper()
	evs, err := e.Close(owner, at, "manual")
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	foldExam(t, e, evs...)
}

// examInStatus builds the sample exam in each status: scheduled opens an
// hour after t0; closed is closed 2h after t0; graded was graded once, 3h after.
func examInStatus(t testing.TB, s ExamStatus) *Exam {
	t.Helper()
	switch s {
	case StatusDraft:
		return draftExam(t)
	case StatusScheduled:
		return publishedExam(t, func(in *ExamDraftInput) { in.OpensAt = ptr(t0.Add(time.Hour)) })
	case StatusOpen:
		return publishedExam(t)
	case StatusClosed:
		e := publishedExam(t)
		closeExam(t, e, t0.Add(2*time.Hour))
		return e
	case StatusGraded:
		e := examInStatus(t, StatusClosed)
		plan := PlanGrading(e, nil, nil, "close", t0.Add(3*time.Hour))
		foldExam(t, e, plan.Graded)
		return e
	}
	t.Fatalf("no fixture for status %q", s)
	return nil
}

// startedAttempt starts a's attempt at now.
func startedAttempt(t testing.TB, e *Exam, a Actor, now time.Time) *Attempt {
	t.Helper()
	at := &Attempt{}
	evs, err := at.Start(e, a, "attempt-"+a.ID, now)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	foldAttempt(t, at, evs...)
	return at
}

func saveAnswers(t testing.TB, e *Exam, at *Attempt, a Actor, now time.Time, answers ...AnswerInput) {
	t.Helper()
	evs, err := at.SaveAnswers(e, a, "attempt-"+a.ID, answers, now)
	if err != nil {
		t.Fatalf("SaveAnswers: %v", err)
	}
	foldAttempt(t, at, evs...)
}

func ans(questionID string, choices ...string) AnswerInput {
	return AnswerInput{QuestionID: questionID, Choices: choices}
}
