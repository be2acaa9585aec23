package api

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/examhall/exam/domain"
)

// Markers our own renderer (projections.RenderStudentExam, encoding/json of examView)
// writes for a shuffled exam: a document without them is served as cached,
// with no decoding on the hot path.
var (
	shuffleQuestionsMark = []byte(`"shuffle_questions":true`)
	shuffleChoicesMark   = []byte(`"shuffle_choices":true`)
)

// studentOrder puts the cached student document of an exam (one per exam
// version, shared by every student) into this student's own order, at
// serving time: questions and choices keep their ids and keys, only their
// order is the student's (domain/shuffle.go).
func studentOrder(body []byte, studentID string) ([]byte, error) {
	sq, sc := bytes.Contains(body, shuffleQuestionsMark), bytes.Contains(body, shuffleChoicesMark)
	if !sq && !sc {
		return body, nil
	}
	var v examView
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("decode the student document: %w", err)
	}
	if v.Questions == nil || len(*v.Questions) == 0 {
		return body, nil
	}
	qs := *v.Questions
	if v.ShuffleChoices {
		for i := range qs {
			if !domain.ShufflesChoices(domain.QuestionKind(qs[i].Kind)) {
				continue
			}
			order := domain.ChoicePermutation(v.ID, qs[i].ID, studentID, len(qs[i].Choices))
			cs := make([]choiceView, len(order))
			for j, k := range order {
				cs[j] = qs[i].Choices[k]
			}
			qs[i].Choices = cs
		}
	}
	if v.ShuffleQuestions {
		order := domain.QuestionPermutation(v.ID, studentID, len(qs))
		out := make([]questionView, len(order))
		for j, k := range order {
			out[j] = qs[k]
		}
		qs = out
	}
	v.Questions = &qs
	return json.Marshal(v)
}
