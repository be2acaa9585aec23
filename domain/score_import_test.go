package domain

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestPlanScoreImport(t *testing.T) {
	// The sample exam (max 6), graded; two students of its level hold scores.
	e := examInStatus(t, StatusGraded)
	now := t0.Add(5 * time.Hour)
	users := map[string]*User{
		"s1@school.test":      {ID: "student-1", Role: RoleStudent, LevelID: levelID},
		"s2@school.test":      {ID: "student-2", Role: RoleStudent, LevelID: levelID},
		"s3@school.test":      {ID: "student-3", Role: RoleStudent, LevelID: levelID}, // no score yet
		"other@school.test":   {ID: "student-9", Role: RoleStudent, LevelID: otherLevelID},
		"doctor@school.test":  {ID: "doctor-1", Role: RoleDoctor},
		"ghost@school.test":   {}, // a reservation whose user never registered
		"student@school.test": {ID: "student-4", Role: RoleStudent, LevelID: levelID},
	}
	current := map[string]float64{"student-1": 4.5, "student-2": 3}
	row := func(n int, email, score string) ScoreImportRow {
		return ScoreImportRow{Row: n, Email: email, Score: score}
	}

	t.Run("unchanged rows record nothing but are accepted", func(t *testing.T) {
		plan, err := PlanScoreImport(e, owner, []ScoreImportRow{row(2, "s1@school.test", "4.5"), row(3, "S2@School.test ", " 3.0")}, users, current, now)
		if err != nil {
			t.Fatal(err)
		}
		if plan.Accepted != 2 || len(plan.Events) != 0 {
			t.Fatalf("plan = %+v, want 2 accepted and no events", plan)
		}
	})

	t.Run("changed and new scores become overrides with the previous score", func(t *testing.T) {
		plan, err := PlanScoreImport(e, admin, []ScoreImportRow{
			row(2, "s1@school.test", "5"), row(3, "s2@school.test", "3"), row(4, "s3@school.test", "2.123456"),
		}, users, current, now)
		if err != nil {
			t.Fatal(err)
		}
		wantTypes(t, plan.Events, TypeScoreOverridden, TypeScoreOverridden)
		prev := 4.5
		want := []*ScoreOverridden{
			{ExamID: examID, StudentID: "student-1", Score: 5, MaxScore: 6, PreviousScore: &prev, Source: "import", OverriddenAt: now},
			{ExamID: examID, StudentID: "student-3", Score: 2.1235, MaxScore: 6, Source: "import", OverriddenAt: now},
		}
		for i, ev := range plan.Events {
			if got := wire(t, ev); !reflect.DeepEqual(got, want[i]) {
				t.Errorf("event %d = %+v, want %+v", i, got, want[i])
			}
			if !reflect.DeepEqual(ev.Tags, []string{ExamTag(examID), StudentTag(want[i].StudentID)}) {
				t.Errorf("event %d tags = %v", i, ev.Tags)
			}
		}
		if plan.Accepted != 3 {
			t.Errorf("accepted = %d, want 3", plan.Accepted)
		}
	})

	t.Run("every bad row is listed, with all its reasons", func(t *testing.T) {
		_, err := PlanScoreImport(e, owner, []ScoreImportRow{
			row(2, "s1@school.test", "5"),
			row(3, "nobody@school.test", "1"),
			row(4, "other@school.test", "1"),
			row(5, "doctor@school.test", "1"),
			row(6, "s2@school.test", "6.001"),
			row(7, "s3@school.test", "-1"),
			row(8, "student@school.test", "abc"),
			row(9, "S1@school.test", "2"),
			row(10, "", ""),
			row(11, "ghost@school.test", "NaN"),
			row(12, "s3@school.test", "0x1p1"),
		}, users, current, now)
		var re *RowsError
		if !errors.As(err, &re) || !errors.Is(err, ErrValidation) {
			t.Fatalf("error = %v, want a *RowsError matching ErrValidation", err)
		}
		want := []RowProblem{
			{3, "nobody@school.test", "no user has this email"},
			{4, "other@school.test", "not a student of the exam's level"},
			{5, "doctor@school.test", "not a student of the exam's level"},
			{6, "s2@school.test", "score must be between 0 and 6"},
			{7, "s3@school.test", "score must be between 0 and 6"},
			{8, "student@school.test", "score is not a number"},
			{9, "S1@school.test", "duplicate email (first on row 2)"},
			{10, "", "email is required; score is required"},
			{11, "ghost@school.test", "no user has this email; score is not a number"},
			{12, "s3@school.test", "duplicate email (first on row 7); score is not a number"},
		}
		if !reflect.DeepEqual(re.Rows, want) {
			t.Fatalf("rows =\n%v\nwant\n%v", re.Rows, want)
		}
	})

	t.Run("the maximum and 0 themselves are valid, rounding to 4 decimals decides", func(t *testing.T) {
		plan, err := PlanScoreImport(e, owner, []ScoreImportRow{row(2, "s1@school.test", "6.00004"), row(3, "s2@school.test", "0"), row(4, "s3@school.test", "1e0")}, users, current, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Events) != 3 || plan.Events[0].Data.(*ScoreOverridden).Score != 6 {
			t.Fatalf("plan = %+v", plan)
		}
	})

	t.Run("too many rows", func(t *testing.T) {
		rows := make([]ScoreImportRow, MaxImportRows+1)
		_, err := PlanScoreImport(e, owner, rows, users, current, now)
		wantFields(t, err, "file")
	})

	t.Run("who and when", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			e    *Exam
			a    Actor
			want error
		}{
			{"another doctor", e, otherDoctor, ErrForbidden},
			{"a student", e, student, ErrForbidden},
			{"no such exam", &Exam{}, admin, ErrNotFound},
			{"closed, not yet graded", examInStatus(t, StatusClosed), owner, ErrNotGraded},
			{"open", examInStatus(t, StatusOpen), owner, ErrNotGraded},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := PlanScoreImport(tc.e, tc.a, []ScoreImportRow{row(2, "s1@school.test", "5")}, users, current, now)
				wantErr(t, err, tc.want)
			})
		}
	})
}

func TestGradebookFoldsScoresInForce(t *testing.T) {
	g := &Gradebook{}
	prev := 4.0
	g.Apply(1, &AttemptScored{StudentID: "s1", Score: 4})
	g.Apply(2, &AttemptScored{StudentID: "s2", Score: 2})
	g.Apply(3, &ScoreOverridden{StudentID: "s1", Score: 5, PreviousScore: &prev})
	g.Apply(4, &AttemptScored{StudentID: "s2", Score: 3})
	g.Apply(5, &ExamGraded{})
	if want := map[string]float64{"s1": 5, "s2": 3}; !reflect.DeepEqual(g.Scores, want) || g.Version != 5 {
		t.Fatalf("gradebook = %+v at %d, want %v at 5", g.Scores, g.Version, want)
	}
}
