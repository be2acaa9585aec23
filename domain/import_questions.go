package domain

import "fmt"

// AddQuestions appends several questions to a draft at once (a question
// file's import). Every question is validated before any is decided, so an
// import adds all of its questions, one exam.question_added.v1 each in one
// append, or none; field names are prefixed "questions[i]." by the
// question's position in ins.
func (e *Exam) AddQuestions(a Actor, ins []QuestionInput, newID func() string) ([]Event, []Question, error) {
	if err := e.requireManage(a); err != nil {
		return nil, nil, err
	}
	if e.Status != StatusDraft {
		return nil, nil, ErrExamNotEditable
	}
	if len(ins) == 0 {
		return nil, nil, NewValidationError(map[string]string{"questions": "there is no question to add"})
	}
	if n := len(e.Questions) + len(ins); n > MaxQuestions {
		return nil, nil, NewValidationError(map[string]string{"questions": fmt.Sprintf(
			"the exam would hold %d questions, at most %d are allowed", n, MaxQuestions)})
	}
	fields := map[string]string{}
	ids := map[string]bool{}
	for _, q := range e.Questions {
		ids[q.ID] = true
	}
	added := normalizeQuestions(ins, newID, ids, fields)
	if err := NewValidationError(fields); err != nil {
		return nil, nil, err
	}
	events := make([]Event, len(added))
	for i, q := range added {
		events[i] = Event{Type: TypeQuestionAdded, Tags: []string{ExamTag(e.ID)}, Data: &QuestionAdded{ExamID: e.ID, Question: q}}
	}
	return events, added, nil
}
