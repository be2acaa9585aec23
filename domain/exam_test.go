package domain

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDraftExamRoles(t *testing.T) {
	tests := []struct {
		name  string
		actor Actor
		want  error
	}{
		{"doctor may draft", owner, nil},
		{"admin may draft", admin, nil},
		{"student may not draft", student, ErrForbidden},
		{"system actor may not draft", systemActor, ErrForbidden},
		{"actor without role may not draft", Actor{ID: "x"}, ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := DraftExam(examID, tc.actor, sampleDraft(), seqIDs("gen-"), t0)
			wantErr(t, err, tc.want)
			if tc.want != nil {
				if evs != nil {
					t.Fatalf("refused draft decided events: %v", eventTypes(evs))
				}
				return
			}
			wantTypes(t, evs, TypeExamDrafted)
			e := &Exam{}
			foldExam(t, e, evs...)
			if e.OwnerID != tc.actor.ID || e.Status != StatusDraft || e.ID != examID || e.LevelID != levelID {
				t.Fatalf("folded draft = %+v", e)
			}
			if len(e.Questions) != 3 || e.MaxScore() != 6 {
				t.Fatalf("questions = %d, max score = %v; want 3 and 6", len(e.Questions), e.MaxScore())
			}
		})
	}
}

func TestDraftExamStoresTimesInUTC(t *testing.T) {
	cairo := time.FixedZone("EET", 2*3600)
	in := sampleDraft()
	in.OpensAt = ptr(time.Date(2030, 3, 2, 10, 0, 0, 0, cairo))
	in.ClosesAt = ptr(time.Date(2030, 3, 2, 12, 0, 0, 0, cairo))
	evs, err := DraftExam(examID, owner, in, seqIDs("gen-"), t0.In(cairo))
	if err != nil {
		t.Fatal(err)
	}
	d := evs[0].Data.(*ExamDrafted)
	if d.CreatedAt.Location() != time.UTC || d.OpensAt.Location() != time.UTC || d.ClosesAt.Location() != time.UTC {
		t.Fatalf("times not in UTC: %v %v %v", d.CreatedAt, d.OpensAt, d.ClosesAt)
	}
	if !d.OpensAt.Equal(*in.OpensAt) || d.OpensAt.Hour() != 8 {
		t.Fatalf("opens_at = %v, want 08:00Z", d.OpensAt)
	}
}

func TestDraftExamValidation(t *testing.T) {
	tooManyQuestions := make([]QuestionInput, MaxQuestions+1)
	for i := range tooManyQuestions {
		tooManyQuestions[i] = QuestionInput{Text: "q", Kind: KindTrueFalse, Correct: []string{"true"}}
	}
	tests := []struct {
		name   string
		edit   func(*ExamDraftInput)
		fields []string
	}{
		{"sample draft is valid", func(*ExamDraftInput) {}, nil},
		{"a draft without questions is valid", func(in *ExamDraftInput) { in.Questions = nil }, nil},
		{"title is required", func(in *ExamDraftInput) { in.Title = "  " }, []string{"title"}},
		{"title longer than MaxTitleLen", func(in *ExamDraftInput) { in.Title = strings.Repeat("t", MaxTitleLen+1) }, []string{"title"}},
		{"description longer than MaxDescLen", func(in *ExamDraftInput) { in.Description = strings.Repeat("d", MaxDescLen+1) }, []string{"description"}},
		{"level is required", func(in *ExamDraftInput) { in.LevelID = " " }, []string{"level_id"}},
		{"closes_at before opens_at", func(in *ExamDraftInput) {
			in.OpensAt, in.ClosesAt = ptr(t0.Add(time.Hour)), ptr(t0)
		}, []string{"closes_at"}},
		{"closes_at equal to opens_at", func(in *ExamDraftInput) {
			in.OpensAt, in.ClosesAt = ptr(t0), ptr(t0)
		}, []string{"closes_at"}},
		{"closes_at without opens_at is fine", func(in *ExamDraftInput) { in.ClosesAt = ptr(t0.Add(time.Hour)) }, nil},
		{"negative time limit", func(in *ExamDraftInput) { in.TimeLimitSeconds = -1 }, []string{"time_limit_seconds"}},
		{"time limit above a week", func(in *ExamDraftInput) { in.TimeLimitSeconds = MaxTimeLimitSecs + 1 }, []string{"time_limit_seconds"}},
		{"time limit of a week is fine", func(in *ExamDraftInput) { in.TimeLimitSeconds = MaxTimeLimitSecs }, nil},
		{"too many questions", func(in *ExamDraftInput) { in.Questions = tooManyQuestions }, []string{"questions"}},
		{"question problems are reported with their index", func(in *ExamDraftInput) {
			in.Questions[1].Text = ""
			in.Questions[2].Correct = []string{"maybe"}
		}, []string{"questions[1].text", "questions[2].correct"}},
		{"duplicate question ids", func(in *ExamDraftInput) { in.Questions[2].ID = "q1" }, []string{"questions[2].id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := sampleDraft()
			tc.edit(&in)
			evs, err := DraftExam(examID, owner, in, seqIDs("gen-"), t0)
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				wantTypes(t, evs, TypeExamDrafted)
				return
			}
			wantFields(t, err, tc.fields...)
			if evs != nil {
				t.Fatalf("invalid draft decided events")
			}
		})
	}
}

// TestExamEditing covers the four draft-only commands for every status and
// actor: only a draft is editable, only by its owner or an admin.
func TestExamEditing(t *testing.T) {
	newQ := QuestionInput{ID: "q4", Text: "New?", Kind: KindTrueFalse, Correct: []string{"true"}}
	ops := []struct {
		name     string
		wantType string
		do       func(e *Exam, a Actor) ([]Event, error)
		check    func(t *testing.T, e *Exam)
	}{
		{"Replace", TypeExamUpdated, func(e *Exam, a Actor) ([]Event, error) {
			in := sampleDraft()
			in.Title, in.LevelID, in.TimeLimitSeconds = "Arithmetic II", otherLevelID, 600
			in.Questions = in.Questions[:1]
			return e.Replace(a, in, seqIDs("gen-"))
		}, func(t *testing.T, e *Exam) {
			if e.Title != "Arithmetic II" || e.LevelID != otherLevelID || e.TimeLimitSeconds != 600 || len(e.Questions) != 1 {
				t.Fatalf("replaced exam = %+v", e)
			}
		}},
		{"AddQuestion", TypeQuestionAdded, func(e *Exam, a Actor) ([]Event, error) {
			evs, _, err := e.AddQuestion(a, newQ, seqIDs("gen-"))
			return evs, err
		}, func(t *testing.T, e *Exam) {
			if len(e.Questions) != 4 || e.Questions[3].ID != "q4" {
				t.Fatalf("questions after add = %v", e.Questions)
			}
		}},
		{"UpdateQuestion", TypeQuestionUpdated, func(e *Exam, a Actor) ([]Event, error) {
			in := newQ
			in.ID = "ignored"
			evs, _, err := e.UpdateQuestion(a, "q2", in, seqIDs("gen-"))
			return evs, err
		}, func(t *testing.T, e *Exam) {
			q, ok := e.Question("q2")
			if !ok || q.Kind != KindTrueFalse || q.Text != "New?" || len(e.Questions) != 3 || e.Questions[1].ID != "q2" {
				t.Fatalf("questions after update = %v", e.Questions)
			}
		}},
		{"RemoveQuestion", TypeQuestionRemoved, func(e *Exam, a Actor) ([]Event, error) {
			return e.RemoveQuestion(a, "q2")
		}, func(t *testing.T, e *Exam) {
			if len(e.Questions) != 2 || e.Questions[0].ID != "q1" || e.Questions[1].ID != "q3" {
				t.Fatalf("questions after remove = %v", e.Questions)
			}
		}},
	}
	cases := []struct {
		name   string
		status ExamStatus
		actor  Actor
		want   error
	}{
		{"owner edits a draft", StatusDraft, owner, nil},
		{"admin edits another doctor's draft", StatusDraft, admin, nil},
		{"other doctor may not edit a draft", StatusDraft, otherDoctor, ErrForbidden},
		{"student may not edit a draft", StatusDraft, student, ErrForbidden},
		{"owner may not edit a scheduled exam", StatusScheduled, owner, ErrExamNotEditable},
		{"owner may not edit an open exam", StatusOpen, owner, ErrExamNotEditable},
		{"admin may not edit an open exam", StatusOpen, admin, ErrExamNotEditable},
		{"owner may not edit a closed exam", StatusClosed, owner, ErrExamNotEditable},
		{"owner may not edit a graded exam", StatusGraded, owner, ErrExamNotEditable},
		{"other doctor gets forbidden, not not-editable, on an open exam", StatusOpen, otherDoctor, ErrForbidden},
	}
	for _, op := range ops {
		for _, tc := range cases {
			t.Run(op.name+"/"+tc.name, func(t *testing.T) {
				e := examInStatus(t, tc.status)
				before := e.Version
				evs, err := op.do(e, tc.actor)
				wantErr(t, err, tc.want)
				if tc.want != nil {
					if len(evs) != 0 {
						t.Fatalf("refused command decided events %v", eventTypes(evs))
					}
					return
				}
				wantTypes(t, evs, op.wantType)
				foldExam(t, e, evs...)
				if e.Version != before+1 || e.Status != StatusDraft {
					t.Fatalf("version %d status %s after edit", e.Version, e.Status)
				}
				op.check(t, e)
			})
		}
		t.Run(op.name+"/unknown exam is not found", func(t *testing.T) {
			_, err := op.do(&Exam{}, admin)
			wantErr(t, err, ErrNotFound)
		})
	}
}

func TestExamEditingQuestionErrors(t *testing.T) {
	q := QuestionInput{Text: "x", Kind: KindTrueFalse, Correct: []string{"true"}}
	t.Run("update of an unknown question is not found", func(t *testing.T) {
		_, _, err := draftExam(t).UpdateQuestion(owner, "nope", q, seqIDs("gen-"))
		wantErr(t, err, ErrNotFound)
	})
	t.Run("remove of an unknown question is not found", func(t *testing.T) {
		_, err := draftExam(t).RemoveQuestion(owner, "nope")
		wantErr(t, err, ErrNotFound)
	})
	t.Run("add with an id already used is a validation error", func(t *testing.T) {
		dup := q
		dup.ID = "q1"
		_, _, err := draftExam(t).AddQuestion(owner, dup, seqIDs("gen-"))
		wantFields(t, err, "id")
	})
	t.Run("add returns the normalised question with a generated id", func(t *testing.T) {
		evs, got, err := draftExam(t).AddQuestion(owner, q, seqIDs("new-"))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "new-1" || len(got.Choices) != 2 || !reflect.DeepEqual(evs[0].Data.(*QuestionAdded).Question, got) {
			t.Fatalf("added question = %+v", got)
		}
	})
	t.Run("add of an invalid question is a validation error without prefix", func(t *testing.T) {
		bad := q
		bad.Text = ""
		_, _, err := draftExam(t).AddQuestion(owner, bad, seqIDs("gen-"))
		wantFields(t, err, "text")
	})
	t.Run("add beyond MaxQuestions is refused", func(t *testing.T) {
		e := draftExam(t)
		for len(e.Questions) < MaxQuestions {
			e.Questions = append(e.Questions, Question{ID: "x" + strings.Repeat("y", len(e.Questions))})
		}
		_, _, err := e.AddQuestion(owner, q, seqIDs("gen-"))
		wantFields(t, err, "questions")
	})
	t.Run("update with an invalid question is a validation error", func(t *testing.T) {
		bad := q
		bad.Correct = []string{"true", "false"}
		_, _, err := draftExam(t).UpdateQuestion(owner, "q1", bad, seqIDs("gen-"))
		wantFields(t, err, "correct")
	})
	t.Run("replace with invalid content is a validation error", func(t *testing.T) {
		in := sampleDraft()
		in.Title = ""
		_, err := draftExam(t).Replace(owner, in, seqIDs("gen-"))
		wantFields(t, err, "title")
	})
}

func TestPublish(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(*ExamDraftInput)
		actor      Actor
		want       error
		fields     []string
		wantStatus ExamStatus
	}{
		{name: "no opens_at: open now", actor: owner, wantStatus: StatusOpen},
		{name: "admin may publish another doctor's exam", actor: admin, wantStatus: StatusOpen},
		{name: "opens_at in the future: scheduled", actor: owner, wantStatus: StatusScheduled,
			edit: func(in *ExamDraftInput) { in.OpensAt = ptr(t0.Add(time.Minute)) }},
		{name: "opens_at in the past: open", actor: owner, wantStatus: StatusOpen,
			edit: func(in *ExamDraftInput) { in.OpensAt = ptr(t0.Add(-time.Minute)) }},
		{name: "opens_at exactly now: open", actor: owner, wantStatus: StatusOpen,
			edit: func(in *ExamDraftInput) { in.OpensAt = ptr(t0) }},
		{name: "closes_at in the future is fine", actor: owner, wantStatus: StatusOpen,
			edit: func(in *ExamDraftInput) { in.ClosesAt = ptr(t0.Add(time.Second)) }},
		{name: "closes_at in the past is rejected", actor: owner, fields: []string{"closes_at"},
			edit: func(in *ExamDraftInput) { in.ClosesAt = ptr(t0.Add(-time.Second)) }},
		{name: "closes_at exactly now is rejected", actor: owner, fields: []string{"closes_at"},
			edit: func(in *ExamDraftInput) { in.ClosesAt = ptr(t0) }},
		{name: "no questions is rejected", actor: owner, fields: []string{"questions"},
			edit: func(in *ExamDraftInput) { in.Questions = nil }},
		{name: "other doctor may not publish", actor: otherDoctor, want: ErrForbidden},
		{name: "student may not publish", actor: student, want: ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e *Exam
			if tc.edit != nil {
				e = draftExam(t, tc.edit)
			} else {
				e = draftExam(t)
			}
			evs, err := e.Publish(tc.actor, t0)
			if tc.fields != nil {
				wantFields(t, err, tc.fields...)
				return
			}
			wantErr(t, err, tc.want)
			if tc.want != nil {
				if evs != nil {
					t.Fatalf("refused publish decided events")
				}
				return
			}
			wantTypes(t, evs, TypeExamPublished)
			if p := evs[0].Data.(*ExamPublished); p.Status != tc.wantStatus || !p.PublishedAt.Equal(t0) {
				t.Fatalf("published payload = %+v", p)
			}
			foldExam(t, e, evs...)
			if e.Status != tc.wantStatus || e.PublishedAt == nil || !e.PublishedAt.Equal(t0) {
				t.Fatalf("status %s published at %v", e.Status, e.PublishedAt)
			}
		})
	}
}

func TestPublishOnlyDrafts(t *testing.T) {
	for _, s := range []ExamStatus{StatusScheduled, StatusOpen, StatusClosed, StatusGraded} {
		t.Run("publishing a "+string(s)+" exam is not editable", func(t *testing.T) {
			evs, err := examInStatus(t, s).Publish(owner, t0.Add(4*time.Hour))
			wantErr(t, err, ErrExamNotEditable)
			if evs != nil {
				t.Fatal("events decided")
			}
		})
	}
	t.Run("unknown exam is not found", func(t *testing.T) {
		_, err := (&Exam{}).Publish(admin, t0)
		wantErr(t, err, ErrNotFound)
	})
}

// A stored draft can hold questions that today's rules would refuse (older
// events, a bug elsewhere): publishing re-checks them.
func TestPublishRechecksStoredQuestions(t *testing.T) {
	e := &Exam{}
	e.Apply(1, &ExamDrafted{ExamID: examID, Title: "t", LevelID: levelID, OwnerID: owner.ID, Questions: []Question{
		{ID: "q1", Kind: KindSingle, Choices: keyed("a"), Correct: []string{"a"}, Points: 1},
		{ID: "q2", Kind: KindSingle, Choices: keyed("a", "b"), Correct: []string{"a", "b"}, Points: 1},
	}})
	_, err := e.Publish(owner, t0)
	wantFields(t, err, "questions[0].choices", "questions[1].correct")
}

func TestOpenIfDue(t *testing.T) {
	opensAt := t0.Add(time.Hour)
	tests := []struct {
		name   string
		status ExamStatus
		now    time.Time
		opens  bool
	}{
		{"scheduled, before opens_at: nothing", StatusScheduled, opensAt.Add(-time.Nanosecond), false},
		{"scheduled, at opens_at: opens", StatusScheduled, opensAt, true},
		{"scheduled, after opens_at: opens", StatusScheduled, opensAt.Add(time.Hour), true},
		{"draft: nothing", StatusDraft, opensAt.Add(time.Hour), false},
		{"open: nothing", StatusOpen, opensAt.Add(time.Hour), false},
		{"closed: nothing", StatusClosed, opensAt.Add(time.Hour), false},
		{"graded: nothing", StatusGraded, opensAt.Add(time.Hour), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := examInStatus(t, tc.status)
			evs := e.OpenIfDue(tc.now)
			if !tc.opens {
				if evs != nil {
					t.Fatalf("decided %v", eventTypes(evs))
				}
				return
			}
			wantTypes(t, evs, TypeExamOpened)
			if d := evs[0].Data.(*ExamOpened); !d.OpenedAt.Equal(tc.now) {
				t.Fatalf("opened at %v, want %v", d.OpenedAt, tc.now)
			}
			foldExam(t, e, evs...)
			if e.Status != StatusOpen || !e.AcceptingAnswers(tc.now) {
				t.Fatalf("status after opening = %s", e.Status)
			}
			if again := e.OpenIfDue(tc.now); again != nil {
				t.Fatalf("opening twice decided %v", eventTypes(again))
			}
		})
	}
}

func TestClose(t *testing.T) {
	now := t0.Add(30 * time.Minute)
	tests := []struct {
		name   string
		status ExamStatus
		actor  Actor
		want   error
		closes bool
	}{
		{"owner closes an open exam", StatusOpen, owner, nil, true},
		{"admin closes an open exam", StatusOpen, admin, nil, true},
		{"system closes an open exam", StatusOpen, systemActor, nil, true},
		{"owner closes a scheduled exam", StatusScheduled, owner, nil, true},
		{"closing a draft: not open", StatusDraft, owner, ErrExamNotOpen, false},
		{"closing a closed exam: no events, no error", StatusClosed, owner, nil, false},
		{"closing a graded exam: no events, no error", StatusGraded, owner, nil, false},
		{"other doctor may not close", StatusOpen, otherDoctor, ErrForbidden, false},
		{"other doctor may not close even a closed exam", StatusClosed, otherDoctor, ErrForbidden, false},
		{"student may not close", StatusOpen, student, ErrForbidden, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := examInStatus(t, tc.status)
			evs, err := e.Close(tc.actor, now.In(time.FixedZone("X", 3600)), "manual")
			wantErr(t, err, tc.want)
			if !tc.closes {
				if evs != nil {
					t.Fatalf("decided %v", eventTypes(evs))
				}
				return
			}
			wantTypes(t, evs, TypeExamClosed)
			d := evs[0].Data.(*ExamClosed)
			if !d.ClosedAt.Equal(now) || d.ClosedAt.Location() != time.UTC || d.Reason != "manual" {
				t.Fatalf("closed payload = %+v", d)
			}
			foldExam(t, e, evs...)
			if e.Status != StatusClosed || !e.ClosedAt.Equal(now) || e.AcceptingAnswers(now.Add(-time.Minute)) {
				t.Fatalf("after close: status %s closed at %v", e.Status, e.ClosedAt)
			}
		})
	}
	t.Run("unknown exam is not found", func(t *testing.T) {
		_, err := (&Exam{}).Close(admin, now, "manual")
		wantErr(t, err, ErrNotFound)
	})
}

func TestCloseIfDue(t *testing.T) {
	closesAt := t0.Add(2 * time.Hour)
	withClose := func(in *ExamDraftInput) { in.ClosesAt = ptr(closesAt) }
	tests := []struct {
		name   string
		exam   func(t *testing.T) *Exam
		now    time.Time
		closes bool
	}{
		{"open, before closes_at: nothing", func(t *testing.T) *Exam { return publishedExam(t, withClose) }, closesAt.Add(-time.Nanosecond), false},
		{"open, at closes_at: closes", func(t *testing.T) *Exam { return publishedExam(t, withClose) }, closesAt, true},
		{"open, scheduler three hours late: still closes at closes_at", func(t *testing.T) *Exam { return publishedExam(t, withClose) }, closesAt.Add(3 * time.Hour), true},
		{"scheduled whose whole window passed: closes", func(t *testing.T) *Exam {
			return publishedExam(t, withClose, func(in *ExamDraftInput) { in.OpensAt = ptr(t0.Add(time.Hour)) })
		}, closesAt.Add(time.Minute), true},
		{"open without closes_at: nothing", func(t *testing.T) *Exam { return publishedExam(t) }, closesAt.Add(1000 * time.Hour), false},
		{"draft with a past closes_at: nothing", func(t *testing.T) *Exam { return draftExam(t, withClose) }, closesAt.Add(time.Hour), false},
		{"already closed: nothing", func(t *testing.T) *Exam {
			e := publishedExam(t, withClose)
			closeExam(t, e, t0.Add(time.Hour))
			return e
		}, closesAt.Add(time.Hour), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.exam(t)
			evs := e.CloseIfDue(tc.now)
			if !tc.closes {
				if evs != nil {
					t.Fatalf("decided %v", eventTypes(evs))
				}
				return
			}
			wantTypes(t, evs, TypeExamClosed)
			d := evs[0].Data.(*ExamClosed)
			if !d.ClosedAt.Equal(closesAt) || d.Reason != "schedule" {
				t.Fatalf("closed payload = %+v, want the scheduled time %v", d, closesAt)
			}
			foldExam(t, e, evs...)
			if e.Status != StatusClosed || !e.ClosedAt.Equal(closesAt) {
				t.Fatalf("after close: %s at %v", e.Status, e.ClosedAt)
			}
			if again := e.CloseIfDue(tc.now); again != nil {
				t.Fatal("closing twice decided events")
			}
		})
	}
}

func TestCorrectAnswerKey(t *testing.T) {
	tests := []struct {
		name        string
		status      ExamStatus
		actor       Actor
		question    string
		correct     []string
		points      *float64
		want        error
		fields      []string
		wantCorrect []string
		wantPoints  float64
	}{
		{name: "owner changes a single key on a draft", status: StatusDraft, actor: owner, question: "q1", correct: []string{"c"}, wantCorrect: []string{"c"}, wantPoints: 1},
		{name: "allowed on an open exam", status: StatusOpen, actor: owner, question: "q1", correct: []string{"a"}, wantCorrect: []string{"a"}, wantPoints: 1},
		{name: "allowed on a closed exam", status: StatusClosed, actor: owner, question: "q1", correct: []string{"a"}, wantCorrect: []string{"a"}, wantPoints: 1},
		{name: "allowed on a graded exam", status: StatusGraded, actor: owner, question: "q1", correct: []string{"a"}, wantCorrect: []string{"a"}, wantPoints: 1},
		{name: "admin may correct", status: StatusGraded, actor: admin, question: "q1", correct: []string{"a"}, wantCorrect: []string{"a"}, wantPoints: 1},
		{name: "keys are trimmed", status: StatusOpen, actor: owner, question: "q2", correct: []string{" a ", "d"}, wantCorrect: []string{"a", "d"}, wantPoints: 3},
		{name: "points may change with the key", status: StatusOpen, actor: owner, question: "q2", correct: []string{"a"}, points: ptr(1.5), wantCorrect: []string{"a"}, wantPoints: 1.5},
		{name: "same key with new points only", status: StatusOpen, actor: owner, question: "q3", correct: []string{"false"}, points: ptr(4.0), wantCorrect: []string{"false"}, wantPoints: 4},
		{name: "true_false key flips", status: StatusClosed, actor: owner, question: "q3", correct: []string{"true"}, wantCorrect: []string{"true"}, wantPoints: 2},
		{name: "unknown question is not found", status: StatusOpen, actor: owner, question: "nope", correct: []string{"a"}, want: ErrNotFound},
		{name: "key not among choices", status: StatusOpen, actor: owner, question: "q1", correct: []string{"z"}, fields: []string{"correct"}},
		{name: "two keys on a single question", status: StatusOpen, actor: owner, question: "q1", correct: []string{"a", "b"}, fields: []string{"correct"}},
		{name: "two keys on a true_false question", status: StatusOpen, actor: owner, question: "q3", correct: []string{"true", "false"}, fields: []string{"correct"}},
		{name: "no key", status: StatusOpen, actor: owner, question: "q2", correct: nil, fields: []string{"correct"}},
		{name: "repeated key", status: StatusOpen, actor: owner, question: "q2", correct: []string{"a", "a"}, fields: []string{"correct"}},
		{name: "zero points", status: StatusOpen, actor: owner, question: "q1", correct: []string{"b"}, points: ptr(0.0), fields: []string{"points"}},
		{name: "points above MaxPoints", status: StatusOpen, actor: owner, question: "q1", correct: []string{"b"}, points: ptr(MaxPoints + 1.0), fields: []string{"points"}},
		{name: "bad key and bad points together", status: StatusOpen, actor: owner, question: "q1", correct: []string{"z"}, points: ptr(-1.0), fields: []string{"correct", "points"}},
		{name: "other doctor may not correct", status: StatusGraded, actor: otherDoctor, question: "q1", correct: []string{"a"}, want: ErrForbidden},
		{name: "student may not correct", status: StatusGraded, actor: student, question: "q1", correct: []string{"a"}, want: ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := examInStatus(t, tc.status)
			before, _ := e.Question(tc.question)
			snapshot := cloneQuestions(e.Questions)
			evs, err := e.CorrectAnswerKey(tc.actor, tc.question, tc.correct, tc.points)
			if tc.fields != nil {
				wantFields(t, err, tc.fields...)
				return
			}
			wantErr(t, err, tc.want)
			if tc.want != nil {
				if evs != nil {
					t.Fatal("refused correction decided events")
				}
				return
			}
			wantTypes(t, evs, TypeAnswerKeyCorrected)
			d := evs[0].Data.(*AnswerKeyCorrected)
			if !slices.Equal(d.PreviousCorrect, before.Correct) || d.PreviousPoints != before.Points || d.QuestionID != tc.question || d.ExamID != examID {
				t.Fatalf("payload = %+v, previous question %+v", d, before)
			}
			oldQuestions := e.Questions
			foldExam(t, e, evs...)
			q, _ := e.Question(tc.question)
			if !slices.Equal(q.Correct, tc.wantCorrect) || q.Points != tc.wantPoints {
				t.Fatalf("after correction: correct %v points %v, want %v %v", q.Correct, q.Points, tc.wantCorrect, tc.wantPoints)
			}
			if e.KeyCorrections != 1 || e.Status != tc.status {
				t.Fatalf("key corrections %d status %s", e.KeyCorrections, e.Status)
			}
			if !reflect.DeepEqual(oldQuestions, snapshot) {
				t.Fatal("Apply modified the questions slice of the earlier state")
			}
		})
	}
}

func TestNeedsGrading(t *testing.T) {
	correct := func(t *testing.T, e *Exam) {
		evs, err := e.CorrectAnswerKey(owner, "q1", []string{"a"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		foldExam(t, e, evs...)
	}
	regrade := func(t *testing.T, e *Exam) {
		foldExam(t, e, PlanGrading(e, nil, nil, "answer_key", t0.Add(5*time.Hour)).Graded)
	}
	tests := []struct {
		name   string
		status ExamStatus
		then   []func(*testing.T, *Exam)
		want   bool
	}{
		{"draft: no", StatusDraft, nil, false},
		{"scheduled: no", StatusScheduled, nil, false},
		{"open: no", StatusOpen, nil, false},
		{"open with a corrected key: not yet", StatusOpen, []func(*testing.T, *Exam){correct}, false},
		{"closed, never graded: yes", StatusClosed, nil, true},
		{"closed with a corrected key: yes", StatusClosed, []func(*testing.T, *Exam){correct}, true},
		{"graded: no", StatusGraded, nil, false},
		{"graded, then key corrected: yes", StatusGraded, []func(*testing.T, *Exam){correct}, true},
		{"graded, corrected, regraded: no", StatusGraded, []func(*testing.T, *Exam){correct, regrade}, false},
		{"graded, corrected twice, regraded once: no", StatusGraded, []func(*testing.T, *Exam){correct, correct, regrade}, false},
		{"regraded, then corrected again: yes", StatusGraded, []func(*testing.T, *Exam){correct, regrade, correct}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := examInStatus(t, tc.status)
			for _, f := range tc.then {
				f(t, e)
			}
			if got := e.NeedsGrading(); got != tc.want {
				t.Fatalf("NeedsGrading = %v, want %v (status %s, corrections %d, graded %d)", got, tc.want, e.Status, e.KeyCorrections, e.KeyCorrectionsGraded)
			}
		})
	}
}

func TestExamVisibility(t *testing.T) {
	type vis struct{ exam, keys bool }
	all := func(v vis) map[ExamStatus]vis {
		return map[ExamStatus]vis{StatusDraft: v, StatusScheduled: v, StatusOpen: v, StatusClosed: v, StatusGraded: v}
	}
	no, yes := vis{}, vis{true, true}
	tests := []struct {
		name  string
		actor Actor
		want  map[ExamStatus]vis
	}{
		{"admin sees every exam and its keys", admin, all(yes)},
		{"owner sees own exam and its keys", owner, all(yes)},
		{"system sees every exam and its keys", systemActor, all(yes)},
		{"other doctor sees nothing", otherDoctor, all(no)},
		{"student of the level: published exams, keys once graded", student, map[ExamStatus]vis{
			StatusDraft: no, StatusScheduled: {true, false}, StatusOpen: {true, false}, StatusClosed: {true, false}, StatusGraded: yes,
		}},
		{"student of another level sees nothing, not even graded keys", foreignStudent, all(no)},
		{"student without a level sees nothing", levellessStudent, all(no)},
	}
	for _, tc := range tests {
		for _, s := range []ExamStatus{StatusDraft, StatusScheduled, StatusOpen, StatusClosed, StatusGraded} {
			t.Run(tc.name+"/"+string(s), func(t *testing.T) {
				e := examInStatus(t, s)
				got := vis{e.VisibleTo(tc.actor), e.KeysVisibleTo(tc.actor)}
				if got != tc.want[s] {
					t.Fatalf("visible, keys visible = %v, want %v", got, tc.want[s])
				}
			})
		}
	}
}

func TestExamDerivedValues(t *testing.T) {
	e := publishedExam(t, func(in *ExamDraftInput) {
		in.Questions[0].Points = ptr(0.1)
		in.Questions[1].Points = ptr(0.2)
		in.ClosesAt = ptr(t0.Add(time.Hour))
	})
	if got := e.MaxScore(); got != 2.3 {
		t.Errorf("MaxScore = %v, want 2.3 (0.1 + 0.2 + 2, rounded)", got)
	}
	if _, ok := e.Question("q2"); !ok {
		t.Error("Question(q2) not found")
	}
	if _, ok := e.Question("q9"); ok {
		t.Error("Question(q9) found")
	}
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{
		{t0, true}, {t0.Add(time.Hour - time.Nanosecond), true}, {t0.Add(time.Hour), false}, {t0.Add(2 * time.Hour), false},
	} {
		if got := e.AcceptingAnswers(tc.now); got != tc.want {
			t.Errorf("AcceptingAnswers(%v) = %v, want %v", tc.now, got, tc.want)
		}
	}
}

func TestCanGrade(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status ExamStatus
		a      Actor
		want   error
	}{
		{"owner, closed", StatusClosed, owner, nil},
		{"admin, graded", StatusGraded, admin, nil},
		{"the grader", StatusClosed, SystemActor("grader"), nil},
		{"owner, open", StatusOpen, owner, ErrNotGraded},
		{"owner, draft", StatusDraft, owner, ErrNotGraded},
		{"another doctor", StatusClosed, otherDoctor, ErrForbidden},
		{"a student", StatusGraded, student, ErrForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, examInStatus(t, tc.status).CanGrade(tc.a), tc.want)
		})
	}
	wantErr(t, (&Exam{}).CanGrade(admin), ErrNotFound)
}
