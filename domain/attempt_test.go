package domain

import (
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestAttemptDeadline(t *testing.T) {
	start := t0.Add(10 * time.Minute)
	tests := []struct {
		name      string
		closesAt  *time.Time
		limitSecs int
		start     time.Time
		want      *time.Time
	}{
		{"no closes_at, no limit: no deadline", nil, 0, start, nil},
		{"closes_at only", ptr(t0.Add(2 * time.Hour)), 0, start, ptr(t0.Add(2 * time.Hour))},
		{"limit only", nil, 1800, start, ptr(start.Add(30 * time.Minute))},
		{"limit ends before closes_at", ptr(t0.Add(2 * time.Hour)), 1800, start, ptr(start.Add(30 * time.Minute))},
		{"closes_at comes before the limit ends", ptr(t0.Add(20 * time.Minute)), 1800, start, ptr(t0.Add(20 * time.Minute))},
		{"limit ends exactly at closes_at", ptr(start.Add(time.Hour)), 3600, start, ptr(start.Add(time.Hour))},
		{"non-UTC start gives a UTC deadline", nil, 60, start.In(time.FixedZone("X", -5*3600)), ptr(start.Add(time.Minute))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &Exam{ClosesAt: tc.closesAt, TimeLimitSeconds: tc.limitSecs}
			got := AttemptDeadline(e, tc.start)
			switch {
			case tc.want == nil && got != nil:
				t.Fatalf("deadline = %v, want none", *got)
			case tc.want != nil && got == nil:
				t.Fatalf("no deadline, want %v", *tc.want)
			case tc.want != nil && (!got.Equal(*tc.want) || got.Location() != time.UTC):
				t.Fatalf("deadline = %v, want %v in UTC", *got, *tc.want)
			}
			if got != nil && tc.closesAt != nil && got == tc.closesAt {
				t.Fatal("deadline aliases the exam's closes_at")
			}
		})
	}
}

func TestStartAttempt(t *testing.T) {
	closesAt := t0.Add(2 * time.Hour)
	withClose := func(in *ExamDraftInput) { in.ClosesAt = ptr(closesAt); in.TimeLimitSeconds = 3600 }
	now := t0.Add(90 * time.Minute)
	tests := []struct {
		name  string
		exam  func(t *testing.T) *Exam
		actor Actor
		now   time.Time
		want  error
	}{
		{"student of the level starts on an open exam", func(t *testing.T) *Exam { return publishedExam(t, withClose) }, student, now, nil},
		{"student of another level: not found", func(t *testing.T) *Exam { return publishedExam(t, withClose) }, foreignStudent, now, ErrNotFound},
		{"student without a level: not found", func(t *testing.T) *Exam { return publishedExam(t, withClose) }, levellessStudent, now, ErrNotFound},
		{"student on a draft: not found", func(t *testing.T) *Exam { return draftExam(t) }, student, now, ErrNotFound},
		{"owner doctor: forbidden", func(t *testing.T) *Exam { return publishedExam(t, withClose) }, owner, now, ErrForbidden},
		{"admin: forbidden", func(t *testing.T) *Exam { return publishedExam(t, withClose) }, admin, now, ErrForbidden},
		{"system: forbidden", func(t *testing.T) *Exam { return publishedExam(t, withClose) }, systemActor, now, ErrForbidden},
		{"unknown exam: not found", func(t *testing.T) *Exam { return &Exam{} }, student, now, ErrNotFound},
		{"scheduled exam before opens_at: not open", func(t *testing.T) *Exam { return examInStatus(t, StatusScheduled) }, student, t0.Add(30 * time.Minute), ErrExamNotOpen},
		{"closed exam: not open", func(t *testing.T) *Exam { return examInStatus(t, StatusClosed) }, student, t0.Add(3 * time.Hour), ErrExamNotOpen},
		{"graded exam: not open", func(t *testing.T) *Exam { return examInStatus(t, StatusGraded) }, student, t0.Add(4 * time.Hour), ErrExamNotOpen},
		{"open exam past closes_at (not closed yet): not open", func(t *testing.T) *Exam { return publishedExam(t, withClose) }, student, closesAt.Add(time.Second), ErrExamNotOpen},
		{"open exam exactly at closes_at: not open", func(t *testing.T) *Exam { return publishedExam(t, withClose) }, student, closesAt, ErrExamNotOpen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.exam(t)
			at := &Attempt{}
			evs, err := at.Start(e, tc.actor, "attempt-1", tc.now)
			wantErr(t, err, tc.want)
			if tc.want != nil {
				if evs != nil {
					t.Fatalf("refused start decided %v", eventTypes(evs))
				}
				return
			}
			wantTypes(t, evs, TypeAttemptStarted)
			foldAttempt(t, at, evs...)
			// Started 90 minutes after t0 with a one-hour limit and a close at
			// +2h: the close comes first.
			if at.ID != "attempt-1" || at.StudentID != tc.actor.ID || at.ExamID != examID || at.Status != AttemptInProgress ||
				!at.StartedAt.Equal(tc.now) || at.Deadline == nil || !at.Deadline.Equal(closesAt) {
				t.Fatalf("started attempt = %+v", at)
			}
			if evs[0].Tags == nil || !slices.Contains(evs[0].Tags, StudentTag(tc.actor.ID)) || !slices.Contains(evs[0].Tags, ExamTag(examID)) {
				t.Fatalf("tags = %v", evs[0].Tags)
			}
		})
	}
}

func TestStartScheduledExamOnceOpeningTimeHasCome(t *testing.T) {
	// The scheduler has not recorded the opening yet, but opens_at passed.
	e := examInStatus(t, StatusScheduled)
	at := &Attempt{}
	evs, err := at.Start(e, student, "attempt-1", t0.Add(2*time.Hour))
	wantErr(t, err, nil)
	wantTypes(t, evs, TypeAttemptStarted)
}

func TestStartAgainDecidesNothing(t *testing.T) {
	e := publishedExam(t)
	at := startedAttempt(t, e, student, t0)
	evs, err := at.Start(e, student, "attempt-other", t0.Add(time.Minute))
	if err != nil || evs != nil {
		t.Fatalf("second start = %v, %v; want nothing", eventTypes(evs), err)
	}
	closeExam(t, e, t0.Add(time.Hour))
	evs, err = at.Start(e, student, "attempt-other", t0.Add(2*time.Hour))
	if err != nil || evs != nil {
		t.Fatalf("start of an existing attempt after close = %v, %v; want the same attempt, nothing decided", eventTypes(evs), err)
	}
}

func TestSaveAnswers(t *testing.T) {
	// The sample exam with a 10-minute limit, open until t0+2h.
	closesAt := t0.Add(2 * time.Hour)
	edit := func(in *ExamDraftInput) { in.ClosesAt = ptr(closesAt); in.TimeLimitSeconds = 600 }
	startAt := t0.Add(time.Minute)
	deadline := startAt.Add(10 * time.Minute)

	type setup int
	const (
		notStarted setup = iota
		started
		submitted
	)
	tests := []struct {
		name      string
		setup     setup
		closed    bool
		actor     Actor
		now       time.Time
		answers   []AnswerInput
		want      error
		fields    []string
		wantTypes []string
	}{
		{name: "starts the attempt implicitly", setup: notStarted, actor: student, now: startAt, answers: []AnswerInput{ans("q1", "b")},
			wantTypes: []string{TypeAttemptStarted, TypeAnswerSaved}},
		{name: "a started attempt saves without a start event", setup: started, actor: student, now: startAt.Add(time.Minute), answers: []AnswerInput{ans("q1", "b")},
			wantTypes: []string{TypeAnswerSaved}},
		{name: "a batch saves every answer", setup: started, actor: student, now: startAt.Add(time.Minute),
			answers:   []AnswerInput{ans("q1", "a"), ans("q2", "a", "c"), ans("q3", "true")},
			wantTypes: []string{TypeAnswerSaved, TypeAnswerSaved, TypeAnswerSaved}},
		{name: "an empty choice list clears an answer", setup: started, actor: student, now: startAt.Add(time.Minute), answers: []AnswerInput{ans("q2")},
			wantTypes: []string{TypeAnswerSaved}},
		{name: "just before the deadline is accepted", setup: started, actor: student, now: deadline.Add(-time.Nanosecond), answers: []AnswerInput{ans("q1", "b")},
			wantTypes: []string{TypeAnswerSaved}},
		{name: "exactly at the deadline: deadline passed", setup: started, actor: student, now: deadline, answers: []AnswerInput{ans("q1", "b")}, want: ErrDeadlinePassed},
		{name: "after the deadline: deadline passed", setup: started, actor: student, now: deadline.Add(time.Hour), answers: []AnswerInput{ans("q1", "b")}, want: ErrDeadlinePassed},
		{name: "after submission: attempt submitted", setup: submitted, actor: student, now: startAt.Add(2 * time.Minute), answers: []AnswerInput{ans("q1", "b")}, want: ErrAttemptSubmitted},
		{name: "after submission and deadline: attempt submitted wins", setup: submitted, actor: student, now: deadline.Add(time.Minute), answers: []AnswerInput{ans("q1", "b")}, want: ErrAttemptSubmitted},
		{name: "exam closed: not open", setup: started, closed: true, actor: student, now: startAt.Add(5 * time.Minute), answers: []AnswerInput{ans("q1", "b")}, want: ErrExamNotOpen},
		{name: "exam closed, attempt never started: not open", setup: notStarted, closed: true, actor: student, now: startAt.Add(5 * time.Minute), answers: []AnswerInput{ans("q1", "b")}, want: ErrExamNotOpen},
		{name: "exam past closes_at: not open", setup: notStarted, actor: student, now: closesAt, answers: []AnswerInput{ans("q1", "b")}, want: ErrExamNotOpen},
		{name: "unknown question: not found", setup: started, actor: student, now: startAt, answers: []AnswerInput{ans("q9", "a")}, want: ErrNotFound},
		{name: "invalid choice", setup: started, actor: student, now: startAt, answers: []AnswerInput{ans("q1", "z")}, want: ErrInvalidChoice},
		{name: "two choices for a single question", setup: started, actor: student, now: startAt, answers: []AnswerInput{ans("q1", "a", "b")}, want: ErrInvalidChoice},
		{name: "all or nothing: a bad choice last in the batch", setup: started, actor: student, now: startAt,
			answers: []AnswerInput{ans("q1", "b"), ans("q2", "a"), ans("q3", "maybe")}, want: ErrInvalidChoice},
		{name: "all or nothing: an unknown question last in the batch", setup: notStarted, actor: student, now: startAt,
			answers: []AnswerInput{ans("q1", "b"), ans("q9", "a")}, want: ErrNotFound},
		{name: "empty batch", setup: started, actor: student, now: startAt, answers: nil, fields: []string{"answers"}},
		{name: "more answers than questions", setup: started, actor: student, now: startAt,
			answers: []AnswerInput{ans("q1", "a"), ans("q1", "b"), ans("q1", "c"), ans("q1", "a")}, fields: []string{"answers"}},
		{name: "student of another level: not found", setup: notStarted, actor: foreignStudent, now: startAt, answers: []AnswerInput{ans("q1", "b")}, want: ErrNotFound},
		{name: "doctor: forbidden", setup: notStarted, actor: owner, now: startAt, answers: []AnswerInput{ans("q1", "b")}, want: ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := publishedExam(t, edit)
			at := &Attempt{}
			if tc.setup >= started {
				at = startedAttempt(t, e, student, startAt)
			}
			if tc.setup == submitted {
				evs, err := at.Submit(e, student, at.ID, startAt.Add(time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				foldAttempt(t, at, evs...)
			}
			if tc.closed {
				closeExam(t, e, startAt.Add(2*time.Minute))
			}
			evs, err := at.SaveAnswers(e, tc.actor, "attempt-new", tc.answers, tc.now)
			if tc.fields != nil {
				wantFields(t, err, tc.fields...)
				if evs != nil {
					t.Fatal("invalid batch decided events")
				}
				return
			}
			wantErr(t, err, tc.want)
			if tc.want != nil {
				if evs != nil {
					t.Fatalf("refused batch decided %v", eventTypes(evs))
				}
				return
			}
			wantTypes(t, evs, tc.wantTypes...)
			wantAttemptID := "attempt-new"
			if tc.setup != notStarted {
				wantAttemptID = at.ID // the existing attempt, not the id offered
			}
			saved := evs[len(evs)-len(tc.answers):]
			for i, ev := range saved {
				d := ev.Data.(*AnswerSaved)
				if d.AttemptID != wantAttemptID || d.ExamID != examID || d.StudentID != tc.actor.ID ||
					d.QuestionID != tc.answers[i].QuestionID || !slices.Equal(d.Choices, tc.answers[i].Choices) || !d.SavedAt.Equal(tc.now) {
					t.Fatalf("answer event %d = %+v", i, d)
				}
				if d.Choices == nil {
					t.Fatal("saved choices are nil; they must encode as [] to clear an answer")
				}
			}
			foldAttempt(t, at, evs...)
			for _, in := range tc.answers {
				if got := at.CurrentAnswers()[in.QuestionID].Choices; !slices.Equal(got, in.Choices) {
					t.Fatalf("answer to %s in force = %v, want %v", in.QuestionID, got, in.Choices)
				}
			}
		})
	}
}

func TestSaveAnswersCopiesChoices(t *testing.T) {
	e := publishedExam(t)
	at := startedAttempt(t, e, student, t0)
	choices := []string{"a", "b"}
	evs, err := at.SaveAnswers(e, student, at.ID, []AnswerInput{{QuestionID: "q2", Choices: choices}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	choices[0] = "e"
	if got := evs[0].Data.(*AnswerSaved).Choices; !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("event choices alias the input: %v", got)
	}
}

func TestSaveAnswersLaterReplacesEarlier(t *testing.T) {
	e := publishedExam(t)
	at := startedAttempt(t, e, student, t0)
	saveAnswers(t, e, at, student, t0.Add(time.Minute), ans("q1", "a"), ans("q2", "a"))
	saveAnswers(t, e, at, student, t0.Add(2*time.Minute), ans("q1", "b"))
	saveAnswers(t, e, at, student, t0.Add(3*time.Minute), ans("q2"))
	want := map[string][]string{"q1": {"b"}, "q2": {}}
	if got := at.FinalAnswers(nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("final answers = %v, want %v", got, want)
	}
	if len(at.History) != 4 {
		t.Fatalf("history holds %d answers, want 4", len(at.History))
	}
}

func TestSubmit(t *testing.T) {
	e := publishedExam(t)
	t.Run("submitting a started attempt", func(t *testing.T) {
		at := startedAttempt(t, e, student, t0)
		evs, err := at.Submit(e, student, "ignored", t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		wantTypes(t, evs, TypeAttemptSubmitted)
		if d := evs[0].Data.(*AttemptSubmitted); d.AttemptID != at.ID || !d.SubmittedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("payload = %+v", d)
		}
		foldAttempt(t, at, evs...)
		if at.Status != AttemptSubmittedS || at.SubmittedAt == nil {
			t.Fatalf("attempt after submit = %+v", at)
		}
		t.Run("submitting twice decides nothing", func(t *testing.T) {
			evs, err := at.Submit(e, student, at.ID, t0.Add(2*time.Minute))
			if err != nil || evs != nil {
				t.Fatalf("second submit = %v, %v", eventTypes(evs), err)
			}
		})
		t.Run("submitting twice after the exam closed still decides nothing", func(t *testing.T) {
			closed := examInStatus(t, StatusClosed)
			evs, err := at.Submit(closed, student, at.ID, t0.Add(3*time.Hour))
			if err != nil || evs != nil {
				t.Fatalf("second submit = %v, %v", eventTypes(evs), err)
			}
		})
		t.Run("answers after submission are refused", func(t *testing.T) {
			_, err := at.SaveAnswers(e, student, at.ID, []AnswerInput{ans("q1", "a")}, t0.Add(2*time.Minute))
			wantErr(t, err, ErrAttemptSubmitted)
		})
	})
	t.Run("submitting without starting starts and submits", func(t *testing.T) {
		at := &Attempt{}
		evs, err := at.Submit(e, student, "attempt-9", t0)
		if err != nil {
			t.Fatal(err)
		}
		wantTypes(t, evs, TypeAttemptStarted, TypeAttemptSubmitted)
		if evs[1].Data.(*AttemptSubmitted).AttemptID != "attempt-9" {
			t.Fatal("submitted event does not name the new attempt")
		}
	})
	t.Run("submitting on a closed exam: not open", func(t *testing.T) {
		closed := examInStatus(t, StatusClosed)
		at := &Attempt{}
		at.Apply(1, &AttemptStarted{AttemptID: "a", ExamID: examID, StudentID: student.ID, StartedAt: t0})
		_, err := at.Submit(closed, student, "a", t0.Add(3*time.Hour))
		wantErr(t, err, ErrExamNotOpen)
	})
	t.Run("student of another level: not found", func(t *testing.T) {
		_, err := (&Attempt{}).Submit(e, foreignStudent, "a", t0)
		wantErr(t, err, ErrNotFound)
	})
	t.Run("admin: forbidden", func(t *testing.T) {
		_, err := (&Attempt{}).Submit(e, admin, "a", t0)
		wantErr(t, err, ErrForbidden)
	})
}

// A replica that checked the attempt before another one appended the
// submission can still append an answer after it: stream order decides.
func TestAnswersAfterSubmittedEventAreNotInForce(t *testing.T) {
	at := &Attempt{}
	deadline := t0.Add(time.Hour)
	at.Apply(1, &AttemptStarted{AttemptID: "a", ExamID: examID, StudentID: student.ID, StartedAt: t0, Deadline: &deadline})
	at.Apply(2, &AnswerSaved{AttemptID: "a", QuestionID: "q1", Choices: []string{"a"}, SavedAt: t0.Add(time.Minute)})
	at.Apply(3, &AttemptSubmitted{AttemptID: "a", SubmittedAt: t0.Add(5 * time.Minute)})
	// Saved with a clock that is earlier than the submission, but after it in the stream.
	at.Apply(4, &AnswerSaved{AttemptID: "a", QuestionID: "q1", Choices: []string{"b"}, SavedAt: t0.Add(4 * time.Minute)})
	at.Apply(5, &AnswerSaved{AttemptID: "a", QuestionID: "q2", Choices: []string{"c"}, SavedAt: t0.Add(6 * time.Minute)})

	if at.Version != 5 {
		t.Fatalf("version = %d, want 5", at.Version)
	}
	if got := at.CurrentAnswers()["q1"].Choices; !slices.Equal(got, []string{"a"}) {
		t.Fatalf("answer in force = %v, want [a]", got)
	}
	if _, ok := at.CurrentAnswers()["q2"]; ok {
		t.Fatal("an answer after submission is in force")
	}
	if want := map[string][]string{"q1": {"a"}}; !reflect.DeepEqual(at.FinalAnswers(nil), want) {
		t.Fatalf("final answers = %v, want %v", at.FinalAnswers(nil), want)
	}
}

func TestFinalAnswers(t *testing.T) {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	type saved struct {
		q       string
		choices []string
		min     int
	}
	tests := []struct {
		name      string
		deadline  *time.Time // the attempt's
		closedAt  *time.Time // the exam's
		submitMin int        // > 0: submitted after the answers, at this minute
		saves     []saved
		want      map[string][]string
	}{
		{name: "latest answer wins", deadline: ptr(at(60)),
			saves: []saved{{"q1", []string{"a"}, 1}, {"q1", []string{"b"}, 2}, {"q1", []string{"c"}, 3}},
			want:  map[string][]string{"q1": {"c"}}},
		{name: "change of mind before the cut-off counts", deadline: ptr(at(60)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{"b"}, 59}},
			want:  map[string][]string{"q1": {"b"}}},
		{name: "answer exactly at the deadline is ignored", deadline: ptr(at(60)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{"b"}, 60}},
			want:  map[string][]string{"q1": {"a"}}},
		{name: "answer after the deadline is ignored", deadline: ptr(at(60)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{"b"}, 61}},
			want:  map[string][]string{"q1": {"a"}}},
		{name: "question answered only late is unanswered", deadline: ptr(at(60)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q2", []string{"b"}, 90}},
			want:  map[string][]string{"q1": {"a"}}},
		{name: "answer after the exam closed is ignored", deadline: ptr(at(60)), closedAt: ptr(at(30)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{"b"}, 31}, {"q2", []string{"c"}, 45}},
			want:  map[string][]string{"q1": {"a"}}},
		{name: "answer in the same instant as the close counts", deadline: ptr(at(60)), closedAt: ptr(at(30)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{"b"}, 30}},
			want:  map[string][]string{"q1": {"b"}}},
		{name: "answer exactly at the deadline is ignored", deadline: ptr(at(60)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{"b"}, 60}},
			want:  map[string][]string{"q1": {"a"}}},
		{name: "close after the deadline: the deadline cuts", deadline: ptr(at(60)), closedAt: ptr(at(120)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{"b"}, 90}},
			want:  map[string][]string{"q1": {"a"}}},
		{name: "no deadline, no close: everything counts", saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{"b"}, 10000}},
			want: map[string][]string{"q1": {"b"}}},
		{name: "no deadline: the close cuts", closedAt: ptr(at(30)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{"b"}, 40}},
			want:  map[string][]string{"q1": {"a"}}},
		{name: "a clear before the cut-off leaves the question empty", deadline: ptr(at(60)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{}, 20}},
			want:  map[string][]string{"q1": {}}},
		{name: "a clear after the cut-off is ignored", deadline: ptr(at(60)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{}, 70}},
			want:  map[string][]string{"q1": {"a"}}},
		{name: "answers after submission are ignored even before the deadline", deadline: ptr(at(60)), submitMin: 15,
			saves: []saved{{"q1", []string{"a"}, 10}, {"q1", []string{"b"}, 20}, {"q2", []string{"c"}, 25}},
			want:  map[string][]string{"q1": {"a"}}},
		{name: "questions are cut independently", deadline: ptr(at(60)),
			saves: []saved{{"q1", []string{"a"}, 10}, {"q2", []string{"b", "c"}, 20}, {"q1", []string{"d"}, 65}, {"q2", []string{"a"}, 59}},
			want:  map[string][]string{"q1": {"a"}, "q2": {"a"}}},
		{name: "no answers", deadline: ptr(at(60)), want: map[string][]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &Attempt{}
			v := int64(1)
			a.Apply(v, &AttemptStarted{AttemptID: "a", ExamID: examID, StudentID: student.ID, StartedAt: t0, Deadline: tc.deadline})
			for i, s := range tc.saves {
				if tc.submitMin > 0 && i > 0 && tc.saves[i-1].min < tc.submitMin && s.min >= tc.submitMin {
					v++
					a.Apply(v, &AttemptSubmitted{AttemptID: "a", SubmittedAt: at(tc.submitMin)})
				}
				v++
				a.Apply(v, &AnswerSaved{AttemptID: "a", QuestionID: s.q, Choices: s.choices, SavedAt: at(s.min)})
			}
			got := a.FinalAnswers(tc.closedAt)
			if !maps.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("final answers = %v, want %v", got, tc.want)
			}
		})
	}
}
