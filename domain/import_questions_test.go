package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestAddQuestions(t *testing.T) {
	t.Parallel()
	ins := []QuestionInput{
		{Text: "New one", Kind: KindSingle, Choices: []Choice{{Text: "x"}, {Text: "y"}}, Correct: []string{"a"}},
		{Text: "New two", Kind: KindTrueFalse, Correct: []string{"true"}},
	}
	t.Run("all are added, one event each, in order", func(t *testing.T) {
		e := draftExam(t)
		evs, qs, err := e.AddQuestions(owner, ins, seqIDs("imp-"))
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || len(qs) != 2 || evs[0].Type != TypeQuestionAdded || qs[1].Text != "New two" {
			t.Fatalf("events %v, questions %v", evs, qs)
		}
		foldExam(t, e, evs...)
		if len(e.Questions) != 5 || e.Questions[3].Text != "New one" || e.Questions[4].Kind != KindTrueFalse {
			t.Fatalf("exam questions %+v", e.Questions)
		}
	})
	t.Run("one bad question refuses all", func(t *testing.T) {
		bad := append([]QuestionInput{}, ins...)
		bad = append(bad, QuestionInput{Text: "", Kind: KindSingle})
		evs, _, err := draftExam(t).AddQuestions(owner, bad, seqIDs("imp-"))
		if evs != nil {
			t.Fatalf("events %v", evs)
		}
		fields := validationFields(t, err)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], "questions[2].") {
			t.Fatalf("fields %v", fields)
		}
	})
	t.Run("over the limit", func(t *testing.T) {
		many := make([]QuestionInput, MaxQuestions-2)
		for i := range many {
			many[i] = ins[1]
		}
		_, _, err := draftExam(t).AddQuestions(owner, many, seqIDs("imp-"))
		wantFields(t, err, "questions")
	})
	t.Run("nothing to add", func(t *testing.T) {
		_, _, err := draftExam(t).AddQuestions(owner, nil, seqIDs("imp-"))
		wantFields(t, err, "questions")
	})
	t.Run("rules of the exam", func(t *testing.T) {
		if _, _, err := draftExam(t).AddQuestions(otherDoctor, ins, seqIDs("imp-")); !errors.Is(err, ErrForbidden) {
			t.Fatalf("other doctor: %v", err)
		}
		if _, _, err := draftExam(t).AddQuestions(student, ins, seqIDs("imp-")); !errors.Is(err, ErrForbidden) {
			t.Fatalf("student: %v", err)
		}
		if _, _, err := publishedExam(t).AddQuestions(owner, ins, seqIDs("imp-")); !errors.Is(err, ErrExamNotEditable) {
			t.Fatalf("published: %v", err)
		}
		if _, _, err := (&Exam{}).AddQuestions(owner, ins, seqIDs("imp-")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
	})
}
