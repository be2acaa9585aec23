package pgread

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
)

var docTime = time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)

// fixtures set every field, so a field added to a domain type but not to
// its stored document fails TestStoredDocumentsKeepEveryField.
func docFixtures() (domain.Exam, domain.User, domain.Level, projections.ResultRow) {
	later := docTime.Add(time.Hour)
	exam := domain.Exam{ID: "E1", Title: "T", Description: "D", LevelID: "L1", OwnerID: "d1", Status: domain.StatusGraded,
		OpensAt: &docTime, ClosesAt: &later, TimeLimitSeconds: 60,
		Questions: []domain.Question{{ID: "q1", Text: "?", Kind: domain.KindMultiple, Choices: []domain.Choice{{Key: "a", Text: "A"}},
			Correct: []string{"a"}, Points: 1.5, NegativePoints: 0.25, ImageID: "img"}},
		CreatedAt: docTime, PublishedAt: &docTime, ClosedAt: &later, GradedAt: &later, GradeRound: 2, KeyCorrections: 3,
		KeyCorrectionsGraded: 2, GradesVersion: 7, Version: 9, ShuffleQuestions: true, ShuffleChoices: true,
		Accommodations: map[string]domain.Accommodation{"s1": {ExtraSeconds: 600, TimeMultiplier: 1.5}}}
	user := domain.User{ID: "u1", Email: "e@x.org", FullName: "N", Role: domain.RoleStudent, LevelID: "L1", IDNumber: "7",
		Subject: "S", Active: true, SessionEpoch: 3, CreatedAt: docTime, Version: 4}
	level := domain.Level{ID: "L1", Name: "Year 1", CreatedAt: docTime}
	row := projections.ResultRow{ExamID: "E1", StudentID: "s1", AttemptID: "a1", Score: 2.5, MaxScore: 3, Answered: 1, Round: 2,
		GradedAt: later, Questions: []domain.QuestionScore{{QuestionID: "q1", Choices: []string{"a"}, PointsAwarded: 1.5}}, Overridden: true}
	return exam, user, level, row
}

// The stored JSON is pinned: changing a key (or renaming a Go field that
// would have changed it) breaks rows already written, so it must fail here.
func TestStoredDocumentShape(t *testing.T) {
	exam, user, level, row := docFixtures()
	for _, c := range []struct {
		name string
		doc  any
		want string
	}{
		{"exam", examDocOf(&exam), `{"ID":"E1","Title":"T","Description":"D","LevelID":"L1","OwnerID":"d1","Status":"graded",` +
			`"OpensAt":"2026-03-01T09:30:00.123456789Z","ClosesAt":"2026-03-01T10:30:00.123456789Z","TimeLimitSeconds":60,"ShuffleQuestions":true,"ShuffleChoices":true,` +
			`"Questions":[{"id":"q1","text":"?","kind":"multiple","choices":[{"key":"a","text":"A"}],"correct":["a"],"points":1.5,"negative_points":0.25,"image_id":"img"}],` +
			`"CreatedAt":"2026-03-01T09:30:00.123456789Z","PublishedAt":"2026-03-01T09:30:00.123456789Z","ClosedAt":"2026-03-01T10:30:00.123456789Z",` +
			`"GradedAt":"2026-03-01T10:30:00.123456789Z","GradeRound":2,"KeyCorrections":3,"KeyCorrectionsGraded":2,"GradesVersion":7,"Accommodations":{"s1":{"ExtraSeconds":600,"TimeMultiplier":1.5}},"Version":9}`},
		{"user", userDocOf(&user), `{"ID":"u1","Email":"e@x.org","FullName":"N","Role":"student","LevelID":"L1","IDNumber":"7",` +
			`"Subject":"S","Active":true,"SessionEpoch":3,"CreatedAt":"2026-03-01T09:30:00.123456789Z","Version":4}`},
		{"level", levelDocOf(level), `{"ID":"L1","Name":"Year 1","CreatedAt":"2026-03-01T09:30:00.123456789Z"}`},
		{"result", resultDocOf(&row), `{"ExamID":"E1","StudentID":"s1","AttemptID":"a1","Score":2.5,"MaxScore":3,"Answered":1,"Round":2,` +
			`"GradedAt":"2026-03-01T10:30:00.123456789Z","Questions":[{"question_id":"q1","choices":["a"],"points_awarded":1.5}],"Overridden":true}`},
	} {
		got, err := json.Marshal(c.doc)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("stored %s document:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// Every field of the domain types survives the stored document, and rows
// written before the documents had their own types (the domain types
// marshalled as they were) still read the same.
func TestStoredDocumentsKeepEveryField(t *testing.T) {
	exam, user, level, row := docFixtures()
	for _, v := range []any{exam, exam.Questions[0], exam.Questions[0].Choices[0], user, level, row, row.Questions[0]} {
		rv := reflect.ValueOf(v)
		for i := range rv.NumField() {
			if rv.Field(i).IsZero() {
				t.Errorf("fixture leaves %T.%s zero", v, rv.Type().Field(i).Name)
			}
		}
	}
	check := func(name string, want, got any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s through its document:\n got %+v\nwant %+v", name, got, want)
		}
	}
	roundTrip := func(v, into any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatal(err)
		}
	}
	var ed examDoc
	roundTrip(examDocOf(&exam), &ed)
	check("exam", &exam, ed.value())
	var ud userDoc
	roundTrip(userDocOf(&user), &ud)
	check("user", &user, ud.value())
	var ld levelDoc
	roundTrip(levelDocOf(level), &ld)
	check("level", &level, ld.value())
	var rd resultDoc
	roundTrip(resultDocOf(&row), &rd)
	check("result", &row, rd.value())

	// The untagged encoding the rows were first written with.
	var old examDoc
	roundTrip(exam, &old)
	check("exam stored untagged", &exam, old.value())
	var oldU userDoc
	roundTrip(user, &oldU)
	check("user stored untagged", &user, oldU.value())
	var oldR resultDoc
	roundTrip(row, &oldR)
	check("result stored untagged", &row, oldR.value())
	var oldL levelDoc
	roundTrip(level, &oldL)
	check("level stored untagged", &level, oldL.value())
}
