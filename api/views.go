package api

import (
	"encoding/json"
	"math"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
)

// JSON shapes of API.md. Times are RFC 3339 UTC; absent optional times are null.

type userView struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	FullName  string    `json:"full_name"`
	Role      string    `json:"role"`
	Active    bool      `json:"active"`
	LevelID   *string   `json:"level_id,omitempty"`
	IDNumber  *string   `json:"id_number,omitempty"`
	Subject   *string   `json:"subject,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func viewUser(u *domain.User) userView {
	v := userView{ID: u.ID, Email: u.Email, FullName: u.FullName, Role: string(u.Role), Active: u.Active, CreatedAt: u.CreatedAt.UTC()}
	switch u.Role {
	case domain.RoleStudent:
		lvl, idn := u.LevelID, u.IDNumber
		v.LevelID, v.IDNumber = &lvl, &idn
	case domain.RoleDoctor:
		s := u.Subject
		v.Subject = &s
	}
	return v
}

type levelView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func viewLevel(l domain.Level) levelView {
	return levelView{ID: l.ID, Name: l.Name, CreatedAt: l.CreatedAt.UTC()}
}

// The exam's shape lives in projections, which stores it in the student
// caches; these names keep the handlers and the OpenAPI test readable.
type (
	choiceView   = projections.ChoiceView
	questionView = projections.QuestionView
	examView     = projections.ExamView
)

func viewExam(e *domain.Exam, withKeys, withQuestions bool) examView {
	return projections.ViewExam(e, withKeys, withQuestions)
}

// renderOpenedExam renders a scheduled exam whose opens_at has passed (it
// accepts answers already) with its questions, from
// projections.OpenedStudentView.
func renderOpenedExam(e *domain.Exam) ([]byte, error) {
	return json.Marshal(viewExam(e, false, true))
}

type attemptView struct {
	AttemptID string     `json:"attempt_id"`
	ExamID    string     `json:"exam_id"`
	Status    string     `json:"status"`
	StartedAt time.Time  `json:"started_at"`
	Deadline  *time.Time `json:"deadline"`
}

type attemptStateView struct {
	AttemptID   string              `json:"attempt_id"`
	ExamID      string              `json:"exam_id"`
	Status      string              `json:"status"`
	StartedAt   time.Time           `json:"started_at"`
	Deadline    *time.Time          `json:"deadline"`
	SubmittedAt *time.Time          `json:"submitted_at"`
	Answers     map[string][]string `json:"answers"`
	// Now is the server's time, so a countdown does not trust the device's
	// clock; ExtraSeconds is the student's accommodation.
	Now          time.Time `json:"now"`
	ExtraSeconds int       `json:"extra_seconds"`
}

type savedAnswerView struct {
	QuestionID string    `json:"question_id"`
	Choices    []string  `json:"choices"`
	SavedAt    time.Time `json:"saved_at"`
}

type submittedView struct {
	AttemptID   string    `json:"attempt_id"`
	Status      string    `json:"status"`
	SubmittedAt time.Time `json:"submitted_at"`
}

type resultItemView struct {
	StudentID  string    `json:"student_id"`
	Email      string    `json:"email"`
	FullName   string    `json:"full_name"`
	Score      float64   `json:"score"`
	MaxScore   float64   `json:"max_score"`
	Percentage float64   `json:"percentage"`
	Answered   int       `json:"answered"`
	GradedAt   time.Time `json:"graded_at"`
	Overridden bool      `json:"overridden"`
}

type questionResultView struct {
	QuestionID    string   `json:"question_id"`
	Choices       []string `json:"choices"`
	Correct       []string `json:"correct"`
	PointsAwarded float64  `json:"points_awarded"`
}

type studentResultView struct {
	ExamID     string                `json:"exam_id"`
	ExamTitle  string                `json:"exam_title,omitempty"`
	Score      float64               `json:"score"`
	MaxScore   float64               `json:"max_score"`
	Percentage float64               `json:"percentage"`
	GradedAt   time.Time             `json:"graded_at"`
	Overridden bool                  `json:"overridden"`
	Questions  *[]questionResultView `json:"questions,omitempty"` // nil in lists
}

func percentage(score, max float64) float64 {
	if max <= 0 {
		return 0
	}
	return math.Round(score/max*10000) / 100
}

func viewStudentResult(row projections.ResultRow, e *domain.Exam, withQuestions bool) studentResultView {
	v := studentResultView{ExamID: row.ExamID, Score: row.Score, MaxScore: row.MaxScore,
		Percentage: percentage(row.Score, row.MaxScore), GradedAt: row.GradedAt.UTC(), Overridden: row.Overridden}
	if e != nil {
		v.ExamTitle = e.Title
	}
	if withQuestions {
		list := make([]questionResultView, 0, len(row.Questions))
		for _, qs := range row.Questions {
			qv := questionResultView{QuestionID: qs.QuestionID, Choices: nonNil(qs.Choices), PointsAwarded: qs.PointsAwarded, Correct: []string{}}
			if e != nil {
				if q, ok := e.Question(qs.QuestionID); ok {
					qv.Correct = append([]string{}, q.Correct...)
				}
			}
			list = append(list, qv)
		}
		if e != nil && e.ShuffleQuestions && len(list) == len(e.Questions) {
			// The result lists the questions in the order the student saw.
			order := domain.QuestionPermutation(e.ID, row.StudentID, len(list))
			byID := make(map[string]questionResultView, len(list))
			for _, qv := range list {
				byID[qv.QuestionID] = qv
			}
			shuffled := make([]questionResultView, 0, len(list))
			for _, i := range order {
				if qv, ok := byID[e.Questions[i].ID]; ok {
					shuffled = append(shuffled, qv)
				}
			}
			if len(shuffled) == len(list) {
				list = shuffled
			}
		}
		v.Questions = &list
	}
	return v
}

type actorView struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

type eventView struct {
	EventID       string          `json:"event_id"`
	StreamID      string          `json:"stream_id"`
	Version       int64           `json:"version"`
	Position      uint64          `json:"position"`
	Type          string          `json:"type"`
	OccurredAt    time.Time       `json:"occurred_at"`
	Actor         actorView       `json:"actor"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Data          json.RawMessage `json:"data"`
}

// viewEvent renders a stored event; sensitive payloads (password hashes,
// recorded responses) are replaced by a marker.
func viewEvent(r eventstore.Record) eventView {
	data := json.RawMessage(r.Data)
	if domain.IsSensitiveEventType(r.Type) || !json.Valid(r.Data) {
		data = json.RawMessage(`{"redacted":true}`)
	}
	return eventView{EventID: r.EventID, StreamID: r.StreamID, Version: r.Version, Position: r.Position, Type: r.Type,
		OccurredAt: r.OccurredAt.UTC(), Actor: actorView{ID: r.ActorID, Role: r.ActorRole}, CorrelationID: r.CorrelationID, Data: data}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
