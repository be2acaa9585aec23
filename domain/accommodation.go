package domain

import (
	"fmt"
	"maps"
	"math"
	"time"
)

// Bounds of an accommodation (API.md "Exam room").
const (
	MaxExtraSeconds   = 7 * 24 * 3600 // a week: anything longer is a typo
	MinTimeMultiplier = 1.0
	MaxTimeMultiplier = 4.0
)

// Accommodation is a student's own time on an exam: extra seconds on top
// of every limit and a multiplier of the time limit. It lives in the exam's
// stream, so grading stays a pure function of the exam's events.
type Accommodation struct {
	ExtraSeconds   int
	TimeMultiplier float64
}

// AccommodationFor is the student's accommodation (the zero one, extra 0
// and multiplier 1, when none was given).
func (e *Exam) AccommodationFor(studentID string) (Accommodation, bool) {
	a, ok := e.Accommodations[studentID]
	if !ok {
		return Accommodation{TimeMultiplier: 1}, false
	}
	return a, true
}

// StudentClosesAt is when the exam closes for this student: closes_at plus
// their extra seconds; nil when the exam has no closing time.
func (e *Exam) StudentClosesAt(studentID string) *time.Time {
	if e.ClosesAt == nil {
		return nil
	}
	acc, _ := e.AccommodationFor(studentID)
	c := e.ClosesAt.Add(time.Duration(acc.ExtraSeconds) * time.Second).UTC()
	return &c
}

// StudentDeadline is the deadline of the student's attempt started at
// startedAt: the earlier of closes_at + extra and started + time limit ×
// multiplier + extra (a term only where the exam has that limit); nil when
// neither applies. It is computed from the exam's current accommodations,
// so one given during the attempt applies at once.
func (e *Exam) StudentDeadline(studentID string, startedAt time.Time) *time.Time {
	acc, _ := e.AccommodationFor(studentID)
	d := e.StudentClosesAt(studentID)
	if e.TimeLimitSeconds > 0 {
		// Whole seconds: a multiplier of 1.5 on 61 s gives 92 s, the same
		// on every replica (no float drift into the nanoseconds).
		limit := time.Duration(math.Round(float64(e.TimeLimitSeconds)*acc.TimeMultiplier)) * time.Second
		l := startedAt.Add(limit + time.Duration(acc.ExtraSeconds)*time.Second).UTC()
		if d == nil || l.Before(*d) {
			d = &l
		}
	}
	return d
}

// AcceptingAnswersFrom reports whether the student may start, answer or
// submit at now: the exam accepts answers (AcceptingAnswers) ignoring its
// closing time, and the student's own closing time has not passed.
func (e *Exam) AcceptingAnswersFrom(studentID string, now time.Time) bool {
	switch e.Status {
	case StatusOpen:
	case StatusScheduled:
		if e.OpensAt == nil || now.Before(*e.OpensAt) {
			return false
		}
	default:
		return false
	}
	c := e.StudentClosesAt(studentID)
	return c == nil || now.Before(*c)
}

// accommodationStudent checks the actor may give the student time on this
// exam and the exam is not closed yet.
func (e *Exam) accommodationStudent(a Actor, student *User) error {
	if err := e.requireManage(a); err != nil {
		return err
	}
	// Only students of the exam's level: anyone else does not exist here.
	if student == nil || student.Role != RoleStudent || student.LevelID != e.LevelID {
		return fmt.Errorf("student: %w", ErrNotFound)
	}
	switch e.Status {
	case StatusDraft, StatusScheduled, StatusOpen:
		return nil
	}
	return ErrExamNotOpen
}

// SetAccommodation gives (or replaces) a student's accommodation.
func (e *Exam) SetAccommodation(a Actor, student *User, extraSeconds int, multiplier float64, now time.Time) ([]Event, error) {
	if err := e.accommodationStudent(a, student); err != nil {
		return nil, err
	}
	fields := map[string]string{}
	if extraSeconds < 0 || extraSeconds > MaxExtraSeconds {
		fields["extra_seconds"] = fmt.Sprintf("must be between 0 and %d", MaxExtraSeconds)
	}
	if math.IsNaN(multiplier) || multiplier < MinTimeMultiplier || multiplier > MaxTimeMultiplier {
		fields["time_multiplier"] = fmt.Sprintf("must be between %g and %g", MinTimeMultiplier, MaxTimeMultiplier)
	}
	if err := NewValidationError(fields); err != nil {
		return nil, err
	}
	return []Event{{Type: TypeAccommodationSet, Tags: []string{ExamTag(e.ID), StudentTag(student.ID)}, Data: &AccommodationSet{
		ExamID: e.ID, StudentID: student.ID, ExtraSeconds: extraSeconds, TimeMultiplier: multiplier, SetAt: now.UTC(),
	}}}, nil
}

// RemoveAccommodation takes a student's accommodation away; removing none
// decides nothing.
func (e *Exam) RemoveAccommodation(a Actor, student *User, now time.Time) ([]Event, error) {
	if err := e.accommodationStudent(a, student); err != nil {
		return nil, err
	}
	if _, ok := e.Accommodations[student.ID]; !ok {
		return nil, nil
	}
	return []Event{{Type: TypeAccommodationRemoved, Tags: []string{ExamTag(e.ID), StudentTag(student.ID)}, Data: &AccommodationRemoved{
		ExamID: e.ID, StudentID: student.ID, RemovedAt: now.UTC(),
	}}}, nil
}

// applyAccommodation folds the accommodation events. The map is replaced,
// never written in place: folded exams are shared by copies (the
// repository's cache), as their slices are.
func (e *Exam) applyAccommodation(data any) {
	switch d := data.(type) {
	case *AccommodationSet:
		m := maps.Clone(e.Accommodations)
		if m == nil {
			m = map[string]Accommodation{}
		}
		mult := d.TimeMultiplier
		if mult < MinTimeMultiplier {
			mult = MinTimeMultiplier
		}
		m[d.StudentID] = Accommodation{ExtraSeconds: d.ExtraSeconds, TimeMultiplier: mult}
		e.Accommodations = m
	case *AccommodationRemoved:
		m := maps.Clone(e.Accommodations)
		delete(m, d.StudentID)
		e.Accommodations = m
	}
}

// StillWorking reports whether an accommodated student may still work at
// now, after closes_at: their own closing time is later and, if they
// started, they have not submitted and their own deadline is later. t is
// their attempt (nil or not started when they have not begun).
func (e *Exam) StillWorking(studentID string, t *Attempt, now time.Time) bool {
	c := e.StudentClosesAt(studentID)
	if c == nil || !now.Before(*c) {
		return false
	}
	if t == nil || !t.Started() {
		return true
	}
	if t.Status == AttemptSubmittedS {
		return false
	}
	d := t.DeadlineIn(e)
	return d == nil || now.Before(*d)
}

// workEnd is when an accommodated student's work ended (for the close time
// the scheduler records): their submission, else their deadline, else
// their own closing time.
func (e *Exam) workEnd(studentID string, t *Attempt) *time.Time {
	if t != nil && t.Started() {
		d := t.DeadlineIn(e)
		if t.SubmittedAt != nil && (d == nil || t.SubmittedAt.Before(*d)) {
			s := t.SubmittedAt.UTC()
			return &s
		}
		return d
	}
	return e.StudentClosesAt(studentID)
}
