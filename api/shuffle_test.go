package api

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
)

func shuffledExam() *domain.Exam {
	return &domain.Exam{ID: "e1", Title: "T", LevelID: "L1", Status: domain.StatusOpen, ShuffleQuestions: true, ShuffleChoices: true,
		CreatedAt: time.Unix(0, 0), Questions: []domain.Question{
			{ID: "q1", Kind: domain.KindSingle, Choices: []domain.Choice{{Key: "a"}, {Key: "b"}, {Key: "c"}, {Key: "d"}}, Points: 1},
			{ID: "q2", Kind: domain.KindTrueFalse, Choices: []domain.Choice{{Key: "true"}, {Key: "false"}}, Points: 1},
			{ID: "q3", Kind: domain.KindMultiple, Choices: []domain.Choice{{Key: "a"}, {Key: "b"}, {Key: "c"}}, Points: 1},
			{ID: "q4", Kind: domain.KindSingle, Choices: []domain.Choice{{Key: "a"}, {Key: "b"}}, Points: 1},
		}}
}

// FuzzStudentOrder: whatever the cached document holds, studentOrder
// never panics, and a document it reorders keeps every question and choice.
func FuzzStudentOrder(f *testing.F) {
	doc, _ := projections.RenderStudentExam(shuffledExam())
	f.Add(doc, "s1")
	f.Add([]byte(`{"shuffle_questions":true}`), "s2")
	f.Add([]byte(`{"shuffle_choices":true,"questions":[{"id":"q","kind":"single","choices":[]}]}`), "s3")
	f.Add([]byte(`"shuffle_questions":true`), "")
	f.Fuzz(func(t *testing.T, body []byte, student string) {
		out, err := studentOrder(body, student)
		if err != nil {
			return
		}
		var in, got examView
		if json.Unmarshal(body, &in) != nil || json.Unmarshal(out, &got) != nil || in.Questions == nil {
			return
		}
		ids := func(v examView) []string {
			var s []string
			for _, q := range *v.Questions {
				s = append(s, q.ID)
			}
			slices.Sort(s)
			return s
		}
		if got.Questions == nil || !slices.Equal(ids(in), ids(got)) {
			t.Fatalf("questions changed: %v → %v", ids(in), ids(got))
		}
	})
}

func TestStudentOrderKeepsTrueFalseAndIsStable(t *testing.T) {
	doc, err := projections.RenderStudentExam(shuffledExam())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := studentOrder(doc, "student-a")
	again, _ := studentOrder(doc, "student-a")
	if string(a) != string(again) {
		t.Fatal("two fetches differ")
	}
	var v examView
	if err := json.Unmarshal(a, &v); err != nil {
		t.Fatal(err)
	}
	for _, q := range *v.Questions {
		if q.Kind == "true_false" && (q.Choices[0].Key != "true" || q.Choices[1].Key != "false") {
			t.Fatalf("true_false reordered: %+v", q.Choices)
		}
	}
	plain := shuffledExam()
	plain.ShuffleQuestions, plain.ShuffleChoices = false, false
	pdoc, _ := projections.RenderStudentExam(plain)
	if out, _ := studentOrder(pdoc, "student-a"); string(out) != string(pdoc) {
		t.Fatal("an exam that does not shuffle was rewritten")
	}
}

// BenchmarkStudentOrder: what serving a shuffled 50-question exam costs
// per request over serving the cached document as it is.
func BenchmarkStudentOrder(b *testing.B) {
	e := shuffledExam()
	qs := make([]domain.Question, 0, 50)
	for i := 0; i < 50; i++ {
		q := e.Questions[i%len(e.Questions)]
		q.ID = "q" + itoa(i)
		q.Text = "A question of a realistic length, about one line of text?"
		qs = append(qs, q)
	}
	e.Questions = qs
	doc, _ := projections.RenderStudentExam(e)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := studentOrder(doc, "student-a"); err != nil {
			b.Fatal(err)
		}
	}
}
