package component_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/examhall/exam/domain"
)

func questionIDs(ex examView) []string {
	out := make([]string, len(ex.Questions))
	for i, q := range ex.Questions {
		out[i] = q.ID
	}
	return out
}

func choiceKeys(q question) []string {
	out := make([]string, len(q.Choices))
	for i, c := range q.Choices {
		out[i] = c.Key
	}
	return out
}

// TestShuffleStable: with shuffle_questions and shuffle_choices, each
// student's order is the one derived from the exam and student ids — the
// same on every fetch, after a restart (the cache rebuilt from the log)
// and in the result view; true/false keeps true, false; staff see the
// authoring order; grading does not care.
func TestShuffleStable(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	doc, a, a2 := w.doctor, w.studentA, w.studentA2
	ex := e.publishedExam(doc, w.levelA, map[string]any{"shuffle_questions": true, "shuffle_choices": true})
	authoring := []string{"q1", "q2", "q3", "q4"}

	staff := e.getExam(ex.ID, doc)
	if !slices.Equal(questionIDs(staff), authoring) || !slices.Equal(choiceKeys(staff.Questions[1]), []string{"a", "b", "c", "d"}) {
		t.Fatalf("staff see %v / %v, want the authoring order", questionIDs(staff), choiceKeys(staff.Questions[1]))
	}
	var flags map[string]any
	e.get("/exams/"+ex.ID, doc.Access).want(t, http.StatusOK).decode(t, &flags)
	if flags["shuffle_questions"] != true || flags["shuffle_choices"] != true {
		t.Fatalf("exam out: shuffle flags %v %v", flags["shuffle_questions"], flags["shuffle_choices"])
	}

	// want is the student's order as the domain derives it.
	want := func(s *user) ([]string, map[string][]string) {
		order := domain.QuestionPermutation(ex.ID, s.ID, len(authoring))
		ids := make([]string, len(order))
		for i, k := range order {
			ids[i] = authoring[k]
		}
		choices := map[string][]string{"q3": {"true", "false"}}
		for _, q := range staff.Questions {
			if q.Kind == "true_false" {
				continue
			}
			keys := choiceKeys(q)
			perm := domain.ChoicePermutation(ex.ID, q.ID, s.ID, len(keys))
			got := make([]string, len(perm))
			for i, k := range perm {
				got[i] = keys[k]
			}
			choices[q.ID] = got
		}
		return ids, choices
	}
	check := func(when string, s *user) examView {
		t.Helper()
		got := e.getExam(ex.ID, s)
		ids, choices := want(s)
		if !slices.Equal(questionIDs(got), ids) {
			t.Fatalf("%s: student sees questions %v, want %v", when, questionIDs(got), ids)
		}
		for _, q := range got.Questions {
			if !slices.Equal(choiceKeys(q), choices[q.ID]) {
				t.Fatalf("%s: %s choices %v, want %v", when, q.ID, choiceKeys(q), choices[q.ID])
			}
			if len(q.Correct) != 0 && got.Status != "graded" {
				t.Fatalf("%s: a key before grading", when)
			}
		}
		return got
	}
	first := check("first fetch", a)
	check("second fetch", a)
	check("another student", a2)
	// Some student of a handful sees another order than the authoring one
	// (1 in 24 per student to see it by chance).
	differs := !slices.Equal(questionIDs(first), authoring)
	for i := 0; i < 5 && !differs; i++ {
		differs = !slices.Equal(questionIDs(check("student", e.student(w.levelA))), authoring)
	}
	if !differs {
		t.Fatal("six students all see the authoring order: nothing is shuffled")
	}

	e.restart()
	e.relogin(a)
	e.relogin(doc)
	check("after a restart", a)

	// Answers by id: grading is unaffected by the order.
	e.answer(ex.ID, "q1", a, "b").want(t, http.StatusOK)
	e.answer(ex.ID, "q3", a, "true").want(t, http.StatusOK)
	e.closeAndGrade(ex.ID, doc, 1)
	if r := e.results(ex.ID, doc)[a.ID]; r.Score != 3 {
		t.Fatalf("score %v, want 3", r.Score)
	}
	var res struct {
		Questions []struct {
			QuestionID string `json:"question_id"`
		} `json:"questions"`
	}
	e.get("/exams/"+ex.ID+"/result", a.Access).want(t, http.StatusOK).decode(t, &res)
	var resIDs []string
	for _, q := range res.Questions {
		resIDs = append(resIDs, q.QuestionID)
	}
	ids, _ := want(a)
	if !slices.Equal(resIDs, ids) {
		t.Fatalf("result lists %v, want the student's order %v", resIDs, ids)
	}
	graded := check("graded", a)
	if len(graded.Questions[0].Correct) == 0 {
		t.Fatal("graded exam without its keys")
	}
}
