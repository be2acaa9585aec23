package projections

import (
	"encoding/json"
	"time"

	"github.com/examhall/exam/domain"
)

// The exam's JSON shape of API.md lives here, below api, because the read
// side stores it: the student caches hold rendered documents, and api serves
// the same shape to staff. One definition, so a cached document and a live
// response can never differ.

// ChoiceView is one choice of a question.
type ChoiceView struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

// QuestionView is a question; Correct is left out unless keys are shown.
type QuestionView struct {
	ID             string       `json:"id"`
	Text           string       `json:"text"`
	Kind           string       `json:"kind"`
	Choices        []ChoiceView `json:"choices"`
	Correct        []string     `json:"correct,omitempty"`
	Points         float64      `json:"points"`
	NegativePoints float64      `json:"negative_points"`
	ImageID        *string      `json:"image_id"`
}

// ExamView is an exam. Times are RFC 3339 UTC; absent optional times are null.
type ExamView struct {
	ID               string     `json:"id"`
	Title            string     `json:"title"`
	Description      string     `json:"description"`
	LevelID          string     `json:"level_id"`
	OwnerID          string     `json:"owner_id"`
	Status           string     `json:"status"`
	Version          int64      `json:"version"`
	OpensAt          *time.Time `json:"opens_at"`
	ClosesAt         *time.Time `json:"closes_at"`
	TimeLimitSeconds *int       `json:"time_limit_seconds"`
	ShuffleQuestions bool       `json:"shuffle_questions"`
	ShuffleChoices   bool       `json:"shuffle_choices"`
	MaxScore         float64    `json:"max_score"`
	QuestionCount    int        `json:"question_count"`
	CreatedAt        time.Time  `json:"created_at"`
	// Questions is nil in summaries (left out) and a list, possibly
	// empty, in full views.
	Questions *[]QuestionView `json:"questions,omitempty"`
}

// ViewExam renders an exam; withKeys decides whether answer keys are shown,
// withQuestions whether questions are listed (summaries leave them out).
func ViewExam(e *domain.Exam, withKeys, withQuestions bool) ExamView {
	v := ExamView{
		ID: e.ID, Title: e.Title, Description: e.Description, LevelID: e.LevelID, OwnerID: e.OwnerID,
		Status: string(e.Status), Version: e.Version, OpensAt: utcPtr(e.OpensAt), ClosesAt: utcPtr(e.ClosesAt),
		MaxScore: e.MaxScore(), QuestionCount: len(e.Questions), CreatedAt: e.CreatedAt.UTC(),
		ShuffleQuestions: e.ShuffleQuestions, ShuffleChoices: e.ShuffleChoices,
	}
	if e.TimeLimitSeconds > 0 {
		l := e.TimeLimitSeconds
		v.TimeLimitSeconds = &l
	}
	if withQuestions {
		qs := make([]QuestionView, 0, len(e.Questions))
		for _, q := range e.Questions {
			qv := QuestionView{ID: q.ID, Text: q.Text, Kind: string(q.Kind), Points: q.Points, NegativePoints: q.NegativePoints,
				Choices: make([]ChoiceView, len(q.Choices))}
			for i, c := range q.Choices {
				qv.Choices[i] = ChoiceView{Key: c.Key, Text: c.Text}
			}
			if withKeys {
				qv.Correct = append([]string{}, q.Correct...)
			}
			if q.ImageID != "" {
				img := q.ImageID
				qv.ImageID = &img
			}
			qs = append(qs, qv)
		}
		v.Questions = &qs
	}
	return v
}

// RenderStudentExam renders the document the student caches hold. The
// caches pass StudentView: keys stripped unless graded, and a scheduled exam
// sealed — rendered here as its summary with "questions": [] (question_count
// and max_score kept), never a question's content.
func RenderStudentExam(e *domain.Exam) ([]byte, error) {
	if e.Status == domain.StatusScheduled {
		return json.Marshal(sealedExamView(e))
	}
	return json.Marshal(ViewExam(e, e.Status == domain.StatusGraded, true))
}

// sealedExamView is the summary of a sealed exam, with an empty question list.
func sealedExamView(e *domain.Exam) ExamView {
	v := ViewExam(e, false, false)
	empty := []QuestionView{}
	v.Questions = &empty
	return v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
