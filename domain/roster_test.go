package domain

import (
	"errors"
	"reflect"
	"testing"
)

func TestPlanRoster(t *testing.T) {
	t.Parallel()
	levels := map[string]bool{"lvl-1": true}
	taken := map[string]bool{"taken@school.test": true}
	good := []RosterRow{
		{Row: 2, Email: " Ann@School.test ", FullName: "Ann", Role: "Student", Level: "lvl-1", IDNumber: "000123"},
		{Row: 3, Email: "doc@school.test", FullName: "Dr Doc", Role: "doctor", Subject: "Biology", Password: "long enough"},
		{Row: 5, Email: "boss@school.test", FullName: "Boss", Role: "admin"},
	}
	plan, err := PlanRoster(good, levels, taken)
	if err != nil {
		t.Fatal(err)
	}
	want := []RegisterInput{
		{Email: "ann@school.test", FullName: "Ann", Role: RoleStudent, LevelID: "lvl-1", IDNumber: "000123"},
		{Email: "doc@school.test", FullName: "Dr Doc", Role: RoleDoctor, Subject: "Biology", Password: "long enough"},
		{Email: "boss@school.test", FullName: "Boss", Role: RoleAdmin},
	}
	if !reflect.DeepEqual(plan, want) {
		t.Fatalf("plan %+v\nwant %+v", plan, want)
	}

	for _, tc := range []struct {
		name string
		row  RosterRow
		want []RosterProblem
	}{
		{"bad email", RosterRow{Email: "not-an-email", FullName: "X", Role: "doctor"}, []RosterProblem{{9, "email", "is not a valid email address"}}},
		{"no email", RosterRow{FullName: "X", Role: "doctor"}, []RosterProblem{{9, "email", "is required"}}},
		{"taken", RosterRow{Email: "TAKEN@school.test", FullName: "X", Role: "doctor"}, []RosterProblem{{9, "email", "is already taken"}}},
		{"unknown level", RosterRow{Email: "s@school.test", FullName: "X", Role: "student", Level: "Year 9"}, []RosterProblem{{9, "level", "no such level (give its name or id)"}}},
		{"student without level", RosterRow{Email: "s@school.test", FullName: "X", Role: "student"}, []RosterProblem{{9, "level", "is required for students"}}},
		{"level for a doctor", RosterRow{Email: "d@school.test", FullName: "X", Role: "doctor", Level: "lvl-1"}, []RosterProblem{{9, "level", "only students have a level"}}},
		{"subject for a student", RosterRow{Email: "s@school.test", FullName: "X", Role: "student", Level: "lvl-1", Subject: "Art"}, []RosterProblem{{9, "subject", "only doctors have a subject"}}},
		{"short password", RosterRow{Email: "d@school.test", FullName: "X", Role: "doctor", Password: "short"}, []RosterProblem{{9, "password", "must be at least 8 characters"}}},
		{"unknown role", RosterRow{Email: "d@school.test", FullName: "X", Role: "teacher"}, []RosterProblem{{9, "role", `must be one of "admin", "doctor", "student"`}}},
		{"no name, several problems sorted by column", RosterRow{Email: "bad", Role: "teacher"},
			[]RosterProblem{{9, "email", "is not a valid email address"}, {9, "full_name", "is required"}, {9, "role", `must be one of "admin", "doctor", "student"`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row := tc.row
			row.Row = 9
			_, err := PlanRoster(append(append([]RosterRow{}, good...), row), levels, taken)
			var re *RosterError
			if !errors.As(err, &re) || !errors.Is(err, ErrValidation) {
				t.Fatalf("error %v", err)
			}
			if !reflect.DeepEqual(re.Rows, tc.want) {
				t.Fatalf("problems %+v\nwant %+v", re.Rows, tc.want)
			}
		})
	}
	t.Run("duplicates in the file, every bad row listed", func(t *testing.T) {
		rows := append(append([]RosterRow{}, good...),
			RosterRow{Row: 7, Email: "ann@SCHOOL.test", FullName: "Ann again", Role: "admin"},
			RosterRow{Row: 8, Email: "x", FullName: "X", Role: "admin"})
		_, err := PlanRoster(rows, levels, taken)
		var re *RosterError
		if !errors.As(err, &re) {
			t.Fatal(err)
		}
		want := []RosterProblem{{7, "email", "appears twice in the file (first in row 2)"}, {8, "email", "is not a valid email address"}}
		if !reflect.DeepEqual(re.Rows, want) {
			t.Fatalf("problems %+v", re.Rows)
		}
	})
	t.Run("empty and too long", func(t *testing.T) {
		_, err := PlanRoster(nil, levels, taken)
		wantFields(t, err, "file")
		_, err = PlanRoster(make([]RosterRow, MaxImportRows+1), levels, taken)
		wantFields(t, err, "file")
	})
}
