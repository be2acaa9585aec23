package pgread

import (
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
)

// The JSON documents of rm_exams, rm_users, rm_levels and rm_results (the
// doc columns) have their own tagged types, so that renaming a field of a
// domain type or of projections.ResultRow cannot silently change what is
// stored (and make rows already written unreadable). The keys are the ones
// the rows were first written with (the Go field names of the untagged
// types then stored), so existing rows read as before; TestStoredDocumentShape
// pins them. A new field is added here, with its key, on purpose.

// storedDoc is a stored document type D that decodes into a *T.
type storedDoc[D, T any] interface {
	*D
	value() *T
}

type examDoc struct {
	ID                   string        `json:"ID"`
	Title                string        `json:"Title"`
	Description          string        `json:"Description"`
	LevelID              string        `json:"LevelID"`
	OwnerID              string        `json:"OwnerID"`
	Status               string        `json:"Status"`
	OpensAt              *time.Time    `json:"OpensAt"`
	ClosesAt             *time.Time    `json:"ClosesAt"`
	TimeLimitSeconds     int           `json:"TimeLimitSeconds"`
	ShuffleQuestions     bool          `json:"ShuffleQuestions,omitempty"`
	ShuffleChoices       bool          `json:"ShuffleChoices,omitempty"`
	Questions            []questionDoc `json:"Questions"`
	CreatedAt            time.Time     `json:"CreatedAt"`
	PublishedAt          *time.Time    `json:"PublishedAt"`
	ClosedAt             *time.Time    `json:"ClosedAt"`
	GradedAt             *time.Time    `json:"GradedAt"`
	GradeRound           int           `json:"GradeRound"`
	KeyCorrections       int           `json:"KeyCorrections"`
	KeyCorrectionsGraded int           `json:"KeyCorrectionsGraded"`
	GradesVersion        int64         `json:"GradesVersion,omitempty"`
	// Accommodations by student id.
	Accommodations map[string]accommodationDoc `json:"Accommodations,omitempty"`
	Version        int64                       `json:"Version"`
}

type accommodationDoc struct {
	ExtraSeconds   int     `json:"ExtraSeconds"`
	TimeMultiplier float64 `json:"TimeMultiplier"`
}

type questionDoc struct {
	ID             string      `json:"id"`
	Text           string      `json:"text"`
	Kind           string      `json:"kind"`
	Choices        []choiceDoc `json:"choices"`
	Correct        []string    `json:"correct"`
	Points         float64     `json:"points"`
	NegativePoints float64     `json:"negative_points"`
	ImageID        string      `json:"image_id,omitempty"`
}

type choiceDoc struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

func examDocOf(e *domain.Exam) examDoc {
	d := examDoc{ID: e.ID, Title: e.Title, Description: e.Description, LevelID: e.LevelID, OwnerID: e.OwnerID,
		Status: string(e.Status), OpensAt: e.OpensAt, ClosesAt: e.ClosesAt, TimeLimitSeconds: e.TimeLimitSeconds,
		CreatedAt: e.CreatedAt, PublishedAt: e.PublishedAt, ClosedAt: e.ClosedAt, GradedAt: e.GradedAt,
		GradeRound: e.GradeRound, KeyCorrections: e.KeyCorrections, KeyCorrectionsGraded: e.KeyCorrectionsGraded, GradesVersion: e.GradesVersion, Version: e.Version,
		ShuffleQuestions: e.ShuffleQuestions, ShuffleChoices: e.ShuffleChoices}
	if e.Accommodations != nil {
		d.Accommodations = make(map[string]accommodationDoc, len(e.Accommodations))
		for sid, a := range e.Accommodations {
			d.Accommodations[sid] = accommodationDoc{ExtraSeconds: a.ExtraSeconds, TimeMultiplier: a.TimeMultiplier}
		}
	}
	if e.Questions != nil {
		d.Questions = make([]questionDoc, len(e.Questions))
	}
	for i, q := range e.Questions {
		qd := questionDoc{ID: q.ID, Text: q.Text, Kind: string(q.Kind), Correct: q.Correct, Points: q.Points,
			NegativePoints: q.NegativePoints, ImageID: q.ImageID}
		if q.Choices != nil {
			qd.Choices = make([]choiceDoc, len(q.Choices))
		}
		for j, c := range q.Choices {
			qd.Choices[j] = choiceDoc{Key: c.Key, Text: c.Text}
		}
		d.Questions[i] = qd
	}
	return d
}

func (d *examDoc) value() *domain.Exam {
	e := &domain.Exam{ID: d.ID, Title: d.Title, Description: d.Description, LevelID: d.LevelID, OwnerID: d.OwnerID,
		Status: domain.ExamStatus(d.Status), OpensAt: d.OpensAt, ClosesAt: d.ClosesAt, TimeLimitSeconds: d.TimeLimitSeconds,
		CreatedAt: d.CreatedAt, PublishedAt: d.PublishedAt, ClosedAt: d.ClosedAt, GradedAt: d.GradedAt,
		GradeRound: d.GradeRound, KeyCorrections: d.KeyCorrections, KeyCorrectionsGraded: d.KeyCorrectionsGraded, GradesVersion: d.GradesVersion, Version: d.Version,
		ShuffleQuestions: d.ShuffleQuestions, ShuffleChoices: d.ShuffleChoices}
	if d.Accommodations != nil {
		e.Accommodations = make(map[string]domain.Accommodation, len(d.Accommodations))
		for sid, a := range d.Accommodations {
			e.Accommodations[sid] = domain.Accommodation{ExtraSeconds: a.ExtraSeconds, TimeMultiplier: a.TimeMultiplier}
		}
	}
	if d.Questions != nil {
		e.Questions = make([]domain.Question, len(d.Questions))
	}
	for i, qd := range d.Questions {
		q := domain.Question{ID: qd.ID, Text: qd.Text, Kind: domain.QuestionKind(qd.Kind), Correct: qd.Correct, Points: qd.Points,
			NegativePoints: qd.NegativePoints, ImageID: qd.ImageID}
		if qd.Choices != nil {
			q.Choices = make([]domain.Choice, len(qd.Choices))
		}
		for j, c := range qd.Choices {
			q.Choices[j] = domain.Choice{Key: c.Key, Text: c.Text}
		}
		e.Questions[i] = q
	}
	return e
}

type userDoc struct {
	ID       string `json:"ID"`
	Email    string `json:"Email"`
	FullName string `json:"FullName"`
	Role     string `json:"Role"`
	LevelID  string `json:"LevelID"`
	IDNumber string `json:"IDNumber"`
	Subject  string `json:"Subject"`
	Active   bool   `json:"Active"`
	// SessionEpoch is stored for completeness; authentication reads it from
	// the user's own stream, never from here.
	SessionEpoch int64     `json:"SessionEpoch,omitempty"`
	CreatedAt    time.Time `json:"CreatedAt"`
	Version      int64     `json:"Version"`
}

func userDocOf(u *domain.User) userDoc {
	return userDoc{ID: u.ID, Email: u.Email, FullName: u.FullName, Role: string(u.Role), LevelID: u.LevelID,
		IDNumber: u.IDNumber, Subject: u.Subject, Active: u.Active, SessionEpoch: u.SessionEpoch, CreatedAt: u.CreatedAt, Version: u.Version}
}

func (d *userDoc) value() *domain.User {
	return &domain.User{ID: d.ID, Email: d.Email, FullName: d.FullName, Role: domain.Role(d.Role), LevelID: d.LevelID,
		IDNumber: d.IDNumber, Subject: d.Subject, Active: d.Active, SessionEpoch: d.SessionEpoch, CreatedAt: d.CreatedAt, Version: d.Version}
}

type levelDoc struct {
	ID        string    `json:"ID"`
	Name      string    `json:"Name"`
	CreatedAt time.Time `json:"CreatedAt"`
}

func levelDocOf(l domain.Level) levelDoc {
	return levelDoc{ID: l.ID, Name: l.Name, CreatedAt: l.CreatedAt}
}

func (d *levelDoc) value() *domain.Level {
	return &domain.Level{ID: d.ID, Name: d.Name, CreatedAt: d.CreatedAt}
}

type resultDoc struct {
	ExamID     string             `json:"ExamID"`
	StudentID  string             `json:"StudentID"`
	AttemptID  string             `json:"AttemptID"`
	Score      float64            `json:"Score"`
	MaxScore   float64            `json:"MaxScore"`
	Answered   int                `json:"Answered"`
	Round      int                `json:"Round"`
	GradedAt   time.Time          `json:"GradedAt"`
	Questions  []questionScoreDoc `json:"Questions"`
	Overridden bool               `json:"Overridden"`
}

type questionScoreDoc struct {
	QuestionID    string   `json:"question_id"`
	Choices       []string `json:"choices"`
	PointsAwarded float64  `json:"points_awarded"`
}

func resultDocOf(r *projections.ResultRow) resultDoc {
	d := resultDoc{ExamID: r.ExamID, StudentID: r.StudentID, AttemptID: r.AttemptID, Score: r.Score, MaxScore: r.MaxScore,
		Answered: r.Answered, Round: r.Round, GradedAt: r.GradedAt, Overridden: r.Overridden}
	if r.Questions != nil {
		d.Questions = make([]questionScoreDoc, len(r.Questions))
	}
	for i, q := range r.Questions {
		d.Questions[i] = questionScoreDoc{QuestionID: q.QuestionID, Choices: q.Choices, PointsAwarded: q.PointsAwarded}
	}
	return d
}

func (d *resultDoc) value() *projections.ResultRow {
	r := &projections.ResultRow{ExamID: d.ExamID, StudentID: d.StudentID, AttemptID: d.AttemptID, Score: d.Score,
		MaxScore: d.MaxScore, Answered: d.Answered, Round: d.Round, GradedAt: d.GradedAt, Overridden: d.Overridden}
	if d.Questions != nil {
		r.Questions = make([]domain.QuestionScore, len(d.Questions))
	}
	for i, q := range d.Questions {
		r.Questions[i] = domain.QuestionScore{QuestionID: q.QuestionID, Choices: q.Choices, PointsAwarded: q.PointsAwarded}
	}
	return r
}
