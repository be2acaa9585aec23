package domain

import (
	"fmt"
	"strings"
	"time"
)

// ExamStatus is where an exam is in its life.
type ExamStatus string

const (
	StatusDraft     ExamStatus = "draft"
	StatusScheduled ExamStatus = "scheduled"
	StatusOpen      ExamStatus = "open"
	StatusClosed    ExamStatus = "closed"
	StatusGraded    ExamStatus = "graded"
)

// Exam is the exam aggregate, folded from its stream.
type Exam struct {
	ID               string
	Title            string
	Description      string
	LevelID          string
	OwnerID          string
	Status           ExamStatus
	OpensAt          *time.Time
	ClosesAt         *time.Time
	TimeLimitSeconds int
	// ShuffleQuestions and ShuffleChoices give each student an order of
	// their own (shuffle.go); staff always see the authoring order.
	ShuffleQuestions bool
	ShuffleChoices   bool
	Questions        []Question
	CreatedAt        time.Time
	PublishedAt      *time.Time
	ClosedAt         *time.Time
	GradedAt         *time.Time
	// GradeRound counts gradings (1 after the first, +1 per regrade).
	GradeRound int
	// GradesVersion is the grades stream's version once the last round's
	// scores were recorded (ExamGraded.GradesVersion): what a results read
	// model must have applied before it may answer for this exam.
	GradesVersion int64
	// KeyCorrections counts answer-key corrections, so the grader can tell
	// whether the last grading saw the current key.
	KeyCorrections int
	// KeyCorrectionsGraded is KeyCorrections as of the last grading.
	KeyCorrectionsGraded int
	// Accommodations by student id (replaced, never written in place).
	Accommodations map[string]Accommodation
	// Version is the stream version the state reflects.
	Version int64
}

// ExamDraftInput is what a new or replaced draft holds.
type ExamDraftInput struct {
	Title            string
	Description      string
	LevelID          string
	OpensAt          *time.Time
	ClosesAt         *time.Time
	TimeLimitSeconds int
	ShuffleQuestions bool
	ShuffleChoices   bool
	Questions        []QuestionInput
}

// Exists reports whether the exam has been drafted.
func (e *Exam) Exists() bool { return e.ID != "" }

// CanManage: admins manage every exam, doctors their own.
func (e *Exam) CanManage(a Actor) bool {
	return a.Role == RoleAdmin || a.Role == RoleSystem || (a.Role == RoleDoctor && a.ID == e.OwnerID)
}

// VisibleTo: staff who manage it, and students of its level once published.
func (e *Exam) VisibleTo(a Actor) bool {
	if a.Role == RoleStudent {
		return e.Status != StatusDraft && a.LevelID != "" && a.LevelID == e.LevelID
	}
	return e.CanManage(a)
}

// KeysVisibleTo: students see answer keys only once the exam is graded, and
// only of exams they can see at all.
func (e *Exam) KeysVisibleTo(a Actor) bool {
	if a.Role == RoleStudent {
		return e.Status == StatusGraded && e.VisibleTo(a)
	}
	return e.CanManage(a)
}

// Question returns the question with the id.
func (e *Exam) Question(id string) (Question, bool) {
	for _, q := range e.Questions {
		if q.ID == id {
			return q, true
		}
	}
	return Question{}, false
}

// MaxScore is the sum of the questions' points.
func (e *Exam) MaxScore() float64 {
	var s float64
	for _, q := range e.Questions {
		s += q.Points
	}
	return roundScore(s)
}

// AcceptingAnswers reports whether answers may be saved at now: the exam is
// open, or scheduled and its opening time has come (students need not wait
// for the scheduler to record the opening), and its closing time has not
// passed (nor the scheduler's close).
func (e *Exam) AcceptingAnswers(now time.Time) bool {
	switch e.Status {
	case StatusOpen:
	case StatusScheduled:
		if e.OpensAt == nil || now.Before(*e.OpensAt) {
			return false
		}
	default:
		return false
	}
	return e.ClosesAt == nil || now.Before(*e.ClosesAt)
}

func (e *Exam) requireManage(a Actor) error {
	if !e.Exists() {
		return ErrNotFound
	}
	if !e.CanManage(a) {
		return ErrForbidden
	}
	return nil
}

func validateDraft(in ExamDraftInput, newID func() string) ([]Question, error) {
	fields := map[string]string{}
	title := strings.TrimSpace(in.Title)
	if title == "" {
		fields["title"] = "is required"
	} else if len(title) > MaxTitleLen {
		fields["title"] = fmt.Sprintf("must be at most %d characters", MaxTitleLen)
	}
	if len(in.Description) > MaxDescLen {
		fields["description"] = fmt.Sprintf("must be at most %d characters", MaxDescLen)
	}
	checkText(fields, "title", title, false)
	checkText(fields, "description", in.Description, true)
	if strings.TrimSpace(in.LevelID) == "" {
		fields["level_id"] = "is required"
	}
	if in.OpensAt != nil && in.ClosesAt != nil && !in.ClosesAt.After(*in.OpensAt) {
		fields["closes_at"] = "must be after opens_at"
	}
	if in.TimeLimitSeconds < 0 || in.TimeLimitSeconds > MaxTimeLimitSecs {
		fields["time_limit_seconds"] = fmt.Sprintf("must be between 0 and %d", MaxTimeLimitSecs)
	}
	if len(in.Questions) > MaxQuestions {
		fields["questions"] = fmt.Sprintf("at most %d questions", MaxQuestions)
	}
	questions := normalizeQuestions(in.Questions, newID, map[string]bool{}, fields)
	if err := NewValidationError(fields); err != nil {
		return nil, err
	}
	return questions, nil
}

// normalizeQuestions validates and normalises questions given as a list,
// reporting problems into fields under "questions[i]." and a question id
// already in taken (which it extends) as a duplicate.
func normalizeQuestions(ins []QuestionInput, newID func() string, taken map[string]bool, fields map[string]string) []Question {
	out := make([]Question, 0, len(ins))
	for i, qi := range ins {
		prefix := fmt.Sprintf("questions[%d].", i)
		q, err := NormalizeQuestion(qi, newID, prefix)
		if err != nil {
			for k, v := range err.(*ValidationError).Fields {
				fields[k] = v
			}
			continue
		}
		if taken[q.ID] {
			fields[prefix+"id"] = "duplicate question id"
		}
		taken[q.ID] = true
		out = append(out, q)
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// DraftExam creates a new draft. Only doctors and admins may.
func DraftExam(examID string, a Actor, in ExamDraftInput, newID func() string, now time.Time) ([]Event, error) {
	if !a.IsStaff() {
		return nil, ErrForbidden
	}
	questions, err := validateDraft(in, newID)
	if err != nil {
		return nil, err
	}
	return []Event{{Type: TypeExamDrafted, Tags: []string{ExamTag(examID)}, Data: &ExamDrafted{
		ExamID: examID, Title: strings.TrimSpace(in.Title), Description: in.Description,
		LevelID: strings.TrimSpace(in.LevelID), OwnerID: a.ID,
		OpensAt: utcPtr(in.OpensAt), ClosesAt: utcPtr(in.ClosesAt), TimeLimitSeconds: in.TimeLimitSeconds,
		ShuffleQuestions: in.ShuffleQuestions, ShuffleChoices: in.ShuffleChoices,
		Questions: questions, CreatedAt: now.UTC(),
	}}}, nil
}

// Replace replaces a draft's content (PUT).
func (e *Exam) Replace(a Actor, in ExamDraftInput, newID func() string) ([]Event, error) {
	if err := e.requireManage(a); err != nil {
		return nil, err
	}
	if e.Status != StatusDraft {
		return nil, ErrExamNotEditable
	}
	questions, err := validateDraft(in, newID)
	if err != nil {
		return nil, err
	}
	return []Event{{Type: TypeExamUpdated, Tags: []string{ExamTag(e.ID)}, Data: &ExamUpdated{
		ExamID: e.ID, Title: strings.TrimSpace(in.Title), Description: in.Description,
		LevelID: strings.TrimSpace(in.LevelID), OpensAt: utcPtr(in.OpensAt), ClosesAt: utcPtr(in.ClosesAt),
		TimeLimitSeconds: in.TimeLimitSeconds, ShuffleQuestions: in.ShuffleQuestions, ShuffleChoices: in.ShuffleChoices,
		Questions: questions,
	}}}, nil
}

// AddQuestion appends a question to a draft.
func (e *Exam) AddQuestion(a Actor, in QuestionInput, newID func() string) ([]Event, Question, error) {
	if err := e.requireManage(a); err != nil {
		return nil, Question{}, err
	}
	if e.Status != StatusDraft {
		return nil, Question{}, ErrExamNotEditable
	}
	if len(e.Questions) >= MaxQuestions {
		return nil, Question{}, NewValidationError(map[string]string{"questions": fmt.Sprintf("at most %d questions", MaxQuestions)})
	}
	q, err := NormalizeQuestion(in, newID, "")
	if err != nil {
		return nil, Question{}, err
	}
	if _, dup := e.Question(q.ID); dup {
		return nil, Question{}, NewValidationError(map[string]string{"id": "duplicate question id"})
	}
	return []Event{{Type: TypeQuestionAdded, Tags: []string{ExamTag(e.ID)}, Data: &QuestionAdded{ExamID: e.ID, Question: q}}}, q, nil
}

// UpdateQuestion replaces one question of a draft.
func (e *Exam) UpdateQuestion(a Actor, questionID string, in QuestionInput, newID func() string) ([]Event, Question, error) {
	if err := e.requireManage(a); err != nil {
		return nil, Question{}, err
	}
	if _, ok := e.Question(questionID); !ok {
		return nil, Question{}, fmt.Errorf("question %s: %w", questionID, ErrNotFound)
	}
	if e.Status != StatusDraft {
		return nil, Question{}, ErrExamNotEditable
	}
	in.ID = questionID
	q, err := NormalizeQuestion(in, newID, "")
	if err != nil {
		return nil, Question{}, err
	}
	return []Event{{Type: TypeQuestionUpdated, Tags: []string{ExamTag(e.ID)}, Data: &QuestionUpdated{ExamID: e.ID, Question: q}}}, q, nil
}

// RemoveQuestion deletes one question of a draft.
func (e *Exam) RemoveQuestion(a Actor, questionID string) ([]Event, error) {
	if err := e.requireManage(a); err != nil {
		return nil, err
	}
	if _, ok := e.Question(questionID); !ok {
		return nil, fmt.Errorf("question %s: %w", questionID, ErrNotFound)
	}
	if e.Status != StatusDraft {
		return nil, ErrExamNotEditable
	}
	return []Event{{Type: TypeQuestionRemoved, Tags: []string{ExamTag(e.ID)}, Data: &QuestionRemoved{ExamID: e.ID, QuestionID: questionID}}}, nil
}

// Publish makes a draft open, or scheduled when opens_at is in the future.
func (e *Exam) Publish(a Actor, now time.Time) ([]Event, error) {
	if err := e.requireManage(a); err != nil {
		return nil, err
	}
	if e.Status != StatusDraft {
		return nil, ErrExamNotEditable
	}
	fields := map[string]string{}
	if len(e.Questions) == 0 {
		fields["questions"] = "needs at least one question"
	}
	for i, q := range e.Questions {
		if len(q.Choices) < 2 {
			fields[fmt.Sprintf("questions[%d].choices", i)] = "needs at least 2 choices"
		}
		if msg := validateCorrect(q.Kind, q.Choices, q.Correct); msg != "" {
			fields[fmt.Sprintf("questions[%d].correct", i)] = msg
		}
	}
	if e.ClosesAt != nil && !e.ClosesAt.After(now) {
		fields["closes_at"] = "is in the past"
	}
	if err := NewValidationError(fields); err != nil {
		return nil, err
	}
	status := StatusOpen
	if e.OpensAt != nil && e.OpensAt.After(now) {
		status = StatusScheduled
	}
	return []Event{{Type: TypeExamPublished, Tags: []string{ExamTag(e.ID)}, Data: &ExamPublished{
		ExamID: e.ID, Status: status, OpensAt: e.OpensAt, ClosesAt: e.ClosesAt, PublishedAt: now.UTC(),
	}}}, nil
}

// OpenIfDue opens a scheduled exam whose opening time has come; otherwise it
// decides nothing, so several schedulers may race harmlessly.
func (e *Exam) OpenIfDue(now time.Time) []Event {
	if e.Status != StatusScheduled || e.OpensAt == nil || now.Before(*e.OpensAt) {
		return nil
	}
	return []Event{{Type: TypeExamOpened, Tags: []string{ExamTag(e.ID)}, Data: &ExamOpened{ExamID: e.ID, OpenedAt: now.UTC()}}}
}

// Close closes an open or scheduled exam ("mark for solving"). Closing a
// closed or graded exam decides nothing (a no-op, not an error).
func (e *Exam) Close(a Actor, now time.Time, reason string) ([]Event, error) {
	if err := e.requireManage(a); err != nil {
		return nil, err
	}
	switch e.Status {
	case StatusClosed, StatusGraded:
		return nil, nil
	case StatusDraft:
		return nil, ErrExamNotOpen
	}
	return []Event{{Type: TypeExamClosed, Tags: []string{ExamTag(e.ID)}, Data: &ExamClosed{ExamID: e.ID, ClosedAt: now.UTC(), Reason: reason}}}, nil
}

// CloseIfDue closes an exam whose closing time has passed, as
// CloseIfDueWith does knowing no accommodated student's attempt.
func (e *Exam) CloseIfDue(now time.Time) []Event { return e.CloseIfDueWith(now, nil) }

// CloseIfDueWith closes an exam whose closing time has passed, unless a
// student with an accommodation may still work (StillWorking); attempts
// holds the attempts of the accommodated students (a missing one has not
// started). The exam then closes when the last of them is done.
func (e *Exam) CloseIfDueWith(now time.Time, attempts map[string]*Attempt) []Event {
	if (e.Status != StatusOpen && e.Status != StatusScheduled) || e.ClosesAt == nil || now.Before(*e.ClosesAt) {
		return nil
	}
	// The recorded close time is the scheduled one, so answers saved after
	// it are ignored whatever the scheduler's delay; with accommodations it
	// is when the last accommodated student's work ended (every other
	// student's own deadline is at closes_at or before, so it cuts them).
	closedAt := e.ClosesAt.UTC()
	for sid := range e.Accommodations {
		t := attempts[sid]
		if e.StillWorking(sid, t, now) {
			return nil
		}
		if end := e.workEnd(sid, t); end != nil && end.After(closedAt) {
			closedAt = end.UTC()
		}
	}
	return []Event{{Type: TypeExamClosed, Tags: []string{ExamTag(e.ID)}, Data: &ExamClosed{ExamID: e.ID, ClosedAt: closedAt, Reason: "schedule"}}}
}

// CorrectAnswerKey changes a question's correct keys (and points) in any
// status. On a closed or graded exam the grader regrades.
func (e *Exam) CorrectAnswerKey(a Actor, questionID string, correct []string, points *float64) ([]Event, error) {
	if err := e.requireManage(a); err != nil {
		return nil, err
	}
	q, ok := e.Question(questionID)
	if !ok {
		return nil, fmt.Errorf("question %s: %w", questionID, ErrNotFound)
	}
	fields := map[string]string{}
	keys := normalizeKeys(correct)
	if msg := validateCorrect(q.Kind, q.Choices, keys); msg != "" {
		fields["correct"] = msg
	}
	newPoints := q.Points
	if points != nil {
		newPoints = *points
		if !(newPoints > 0 && newPoints <= MaxPoints) {
			fields["points"] = fmt.Sprintf("must be greater than 0 and at most %d", MaxPoints)
		}
	}
	if err := NewValidationError(fields); err != nil {
		return nil, err
	}
	return []Event{{Type: TypeAnswerKeyCorrected, Tags: []string{ExamTag(e.ID)}, Data: &AnswerKeyCorrected{
		ExamID: e.ID, QuestionID: q.ID, Correct: keys, Points: newPoints,
		PreviousCorrect: q.Correct, PreviousPoints: q.Points,
	}}}, nil
}

// CanGrade: the actor manages the exam and it is closed or graded, so its
// attempts may be replayed (grading, regrading, item statistics).
func (e *Exam) CanGrade(a Actor) error {
	if err := e.requireManage(a); err != nil {
		return err
	}
	if e.Status != StatusClosed && e.Status != StatusGraded {
		return ErrNotGraded
	}
	return nil
}

// NeedsGrading reports whether the grader owes this exam a grading: it is
// closed and never graded, or its key changed since the last grading.
func (e *Exam) NeedsGrading() bool {
	switch e.Status {
	case StatusClosed:
		return true
	case StatusGraded:
		return e.KeyCorrections != e.KeyCorrectionsGraded
	}
	return false
}

// ApplyExam folds one event of the exam stream into the state.
func (e *Exam) Apply(version int64, data any) {
	e.Version = version
	switch d := data.(type) {
	case *ExamDrafted:
		*e = Exam{
			ID: d.ExamID, Title: d.Title, Description: d.Description, LevelID: d.LevelID, OwnerID: d.OwnerID,
			Status: StatusDraft, OpensAt: d.OpensAt, ClosesAt: d.ClosesAt, TimeLimitSeconds: d.TimeLimitSeconds,
			ShuffleQuestions: d.ShuffleQuestions, ShuffleChoices: d.ShuffleChoices,
			Questions: cloneQuestions(d.Questions), CreatedAt: d.CreatedAt, Version: version,
		}
	case *ExamUpdated:
		e.Title, e.Description, e.OpensAt, e.ClosesAt = d.Title, d.Description, d.OpensAt, d.ClosesAt
		if d.LevelID != "" {
			e.LevelID = d.LevelID
		}
		e.TimeLimitSeconds, e.Questions = d.TimeLimitSeconds, cloneQuestions(d.Questions)
		e.ShuffleQuestions, e.ShuffleChoices = d.ShuffleQuestions, d.ShuffleChoices
	case *QuestionAdded:
		e.Questions = append(cloneQuestions(e.Questions), d.Question)
	case *QuestionUpdated:
		qs := cloneQuestions(e.Questions)
		for i := range qs {
			if qs[i].ID == d.Question.ID {
				qs[i] = d.Question
			}
		}
		e.Questions = qs
	case *QuestionRemoved:
		qs := make([]Question, 0, len(e.Questions))
		for _, q := range e.Questions {
			if q.ID != d.QuestionID {
				qs = append(qs, q)
			}
		}
		e.Questions = qs
	case *ExamPublished:
		e.Status = d.Status
		t := d.PublishedAt
		e.PublishedAt = &t
	case *ExamOpened:
		e.Status = StatusOpen
	case *ExamClosed:
		e.Status = StatusClosed
		t := d.ClosedAt
		e.ClosedAt = &t
	case *AnswerKeyCorrected:
		qs := cloneQuestions(e.Questions)
		for i := range qs {
			if qs[i].ID == d.QuestionID {
				qs[i].Correct = append([]string(nil), d.Correct...)
				qs[i].Points = d.Points
			}
		}
		e.Questions = qs
		e.KeyCorrections++
	case *AccommodationSet, *AccommodationRemoved:
		e.applyAccommodation(d)
	case *ExamGraded:
		e.Status = StatusGraded
		e.GradeRound = d.Round
		e.GradesVersion = d.GradesVersion
		t := d.GradedAt
		e.GradedAt = &t
		e.KeyCorrectionsGraded = e.KeyCorrections
	}
}
