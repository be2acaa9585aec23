package domain

import (
	"fmt"
	"time"
)

// AttemptStatus is where a student's attempt is.
type AttemptStatus string

const (
	AttemptNotStarted AttemptStatus = ""
	AttemptInProgress AttemptStatus = "in_progress"
	AttemptSubmittedS AttemptStatus = "submitted"
)

// RecordedAnswer is one saved answer with when it was saved.
type RecordedAnswer struct {
	Choices []string
	SavedAt time.Time
}

// Attempt is one student's attempt at one exam, folded from its stream.
type Attempt struct {
	ID          string
	ExamID      string
	StudentID   string
	Status      AttemptStatus
	StartedAt   time.Time
	Deadline    *time.Time
	SubmittedAt *time.Time
	// History holds every answer recorded before submission, in stream
	// order (shared with the decoded events: never modified). Grading applies
	// the cut-off rule to it; CurrentAnswers gives the latest per question.
	History []*AnswerSaved
	Version int64
}

// CurrentAnswers is the latest recorded answer per question (what the
// student sees as saved).
func (t *Attempt) CurrentAnswers() map[string]RecordedAnswer {
	out := make(map[string]RecordedAnswer, len(t.History))
	for _, h := range t.History {
		out[h.QuestionID] = RecordedAnswer{Choices: h.Choices, SavedAt: h.SavedAt}
	}
	return out
}

// Started reports whether the attempt exists.
func (t *Attempt) Started() bool { return t.Status != AttemptNotStarted }

// AttemptDeadline is the earlier of the exam's close time and the start plus
// the time limit; nil when neither applies.
func AttemptDeadline(e *Exam, startedAt time.Time) *time.Time {
	var d *time.Time
	if e.ClosesAt != nil {
		c := e.ClosesAt.UTC()
		d = &c
	}
	if e.TimeLimitSeconds > 0 {
		l := startedAt.Add(time.Duration(e.TimeLimitSeconds) * time.Second).UTC()
		if d == nil || l.Before(*d) {
			d = &l
		}
	}
	return d
}

func attemptTags(examID, studentID string) []string {
	return []string{ExamTag(examID), StudentTag(studentID)}
}

// requireStudentAccess: the actor must be a student of the exam's level,
// and the exam must be visible (not a draft); otherwise it does not exist
// for them.
func requireStudentAccess(e *Exam, a Actor) error {
	if !e.Exists() {
		return ErrNotFound
	}
	if a.Role != RoleStudent {
		return ErrForbidden
	}
	if !e.VisibleTo(a) {
		return ErrNotFound
	}
	return nil
}

// Start begins the attempt. Starting a started attempt decides nothing.
func (t *Attempt) Start(e *Exam, a Actor, attemptID string, now time.Time) ([]Event, error) {
	if err := requireStudentAccess(e, a); err != nil {
		return nil, err
	}
	if t.Started() {
		return nil, nil
	}
	if !e.AcceptingAnswersFrom(a.ID, now) {
		return nil, ErrExamNotOpen
	}
	// The deadline recorded is the exam's, without accommodation; the one
	// that rules comes from the exam's accommodations at each decision
	// (DeadlineIn), so one given or taken away later applies at once.
	return []Event{{Type: TypeAttemptStarted, Tags: attemptTags(e.ID, a.ID), Data: &AttemptStarted{
		AttemptID: attemptID, ExamID: e.ID, StudentID: a.ID, StartedAt: now.UTC(), Deadline: AttemptDeadline(e, now),
	}}}, nil
}

// AnswerInput is one answer a student sends.
type AnswerInput struct {
	QuestionID string
	Choices    []string
}

// SaveAnswers records answers, all or nothing, starting the attempt first if
// needed. Later answers to a question replace earlier ones.
func (t *Attempt) SaveAnswers(e *Exam, a Actor, attemptID string, answers []AnswerInput, now time.Time) ([]Event, error) {
	if err := requireStudentAccess(e, a); err != nil {
		return nil, err
	}
	if t.Status == AttemptSubmittedS {
		return nil, ErrAttemptSubmitted
	}
	if !e.AcceptingAnswersFrom(a.ID, now) {
		return nil, ErrExamNotOpen
	}
	if d := t.DeadlineIn(e); d != nil && !now.Before(*d) {
		return nil, ErrDeadlinePassed
	}
	if len(answers) == 0 {
		return nil, NewValidationError(map[string]string{"answers": "needs at least one answer"})
	}
	if len(answers) > len(e.Questions) {
		return nil, NewValidationError(map[string]string{"answers": "more answers than the exam has questions"})
	}
	events, err := t.Start(e, a, attemptID, now)
	if err != nil {
		return nil, err
	}
	id := t.ID
	if id == "" {
		id = attemptID
	}
	for _, in := range answers {
		q, ok := e.Question(in.QuestionID)
		if !ok {
			return nil, fmt.Errorf("question %s: %w", in.QuestionID, ErrNotFound)
		}
		if err := q.ValidateAnswer(in.Choices); err != nil {
			return nil, err
		}
		choices := append(make([]string, 0, len(in.Choices)), in.Choices...)
		events = append(events, Event{Type: TypeAnswerSaved, Tags: attemptTags(e.ID, a.ID), Data: &AnswerSaved{
			AttemptID: id, ExamID: e.ID, StudentID: a.ID, QuestionID: q.ID, Choices: choices, SavedAt: now.UTC(),
		}})
	}
	return events, nil
}

// Submit ends the attempt; later answers are refused. Submitting twice
// decides nothing. An exam that is no longer open refuses submission: its
// answers are already final by the close.
func (t *Attempt) Submit(e *Exam, a Actor, attemptID string, now time.Time) ([]Event, error) {
	if err := requireStudentAccess(e, a); err != nil {
		return nil, err
	}
	if t.Status == AttemptSubmittedS {
		return nil, nil
	}
	if !e.AcceptingAnswersFrom(a.ID, now) {
		return nil, ErrExamNotOpen
	}
	events, err := t.Start(e, a, attemptID, now)
	if err != nil {
		return nil, err
	}
	id := t.ID
	if id == "" {
		id = attemptID
	}
	return append(events, Event{Type: TypeAttemptSubmitted, Tags: attemptTags(e.ID, a.ID), Data: &AttemptSubmitted{
		AttemptID: id, ExamID: e.ID, StudentID: a.ID, SubmittedAt: now.UTC(),
	}}), nil
}

// Apply folds one event of the attempt stream into the state.
func (t *Attempt) Apply(version int64, data any) {
	t.Version = version
	switch d := data.(type) {
	case *AttemptStarted:
		t.ID, t.ExamID, t.StudentID = d.AttemptID, d.ExamID, d.StudentID
		t.Status, t.StartedAt, t.Deadline = AttemptInProgress, d.StartedAt, d.Deadline
	case *AnswerSaved:
		if t.Status == AttemptSubmittedS {
			// An answer recorded after submission (a race between replicas)
			// stays in the store for audit but is never in force: stream
			// order, not clocks, decides what came after the submission.
			return
		}
		t.History = append(t.History, d)
	case *AttemptSubmitted:
		t.Status = AttemptSubmittedS
		s := d.SubmittedAt
		t.SubmittedAt = &s
	}
}

// DeadlineIn is the attempt's deadline in force: the one recorded at the
// start (the exam's own), or, for a student with an accommodation, their
// deadline under it (Exam.StudentDeadline). Nil for an attempt not started.
func (t *Attempt) DeadlineIn(e *Exam) *time.Time {
	if !t.Started() {
		return nil
	}
	if _, ok := e.Accommodations[t.StudentID]; !ok {
		return t.Deadline
	}
	return e.StudentDeadline(t.StudentID, t.StartedAt)
}

// FinalAnswersIn is FinalAnswers under the deadline in force (DeadlineIn):
// what grading counts.
func (t *Attempt) FinalAnswersIn(e *Exam) map[string][]string {
	return t.finalAnswers(t.DeadlineIn(e), e.ClosedAt)
}

// FinalAnswers applies the grading cut-off: the latest answer per question
// recorded before the attempt was submitted (History holds only those),
// strictly before its deadline (the API refuses answers at the deadline),
// and no later than the exam's close (closedAt may be nil): an answer the
// API accepted in the same instant as a manual close still counts, one
// recorded after it (a race between replicas) does not.
func (t *Attempt) FinalAnswers(closedAt *time.Time) map[string][]string {
	return t.finalAnswers(t.Deadline, closedAt)
}

func (t *Attempt) finalAnswers(deadline, closedAt *time.Time) map[string][]string {
	out := make(map[string][]string, 64)
	for _, h := range t.History {
		if deadline != nil && !h.SavedAt.Before(*deadline) {
			continue
		}
		if closedAt != nil && h.SavedAt.After(*closedAt) {
			continue
		}
		out[h.QuestionID] = h.Choices
	}
	return out
}
