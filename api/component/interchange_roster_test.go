package component_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

type rosterResp struct {
	Created            int  `json:"created"`
	DryRun             bool `json:"dry_run"`
	GeneratedPasswords []struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	} `json:"generated_passwords"`
	Users []struct {
		Email    string  `json:"email"`
		Role     string  `json:"role"`
		LevelID  *string `json:"level_id"`
		IDNumber *string `json:"id_number"`
	} `json:"users"`
}

// TestRosterImport: a roster registers every row or none; generated
// passwords log in; id_number keeps its leading zeros; the export imports
// back.
func TestRosterImport(t *testing.T) {
	t.Parallel()
	e := start(t)
	levelName := e.unique("Year")
	level := e.createLevel(levelName)
	csvFile := "email,full_name,role,level,id_number,subject,password\n" +
		"ann@roster.test,Ann Able,student," + levelName + ",000123,,\n" +
		"bob@roster.test,Bob Baker,student," + level + ",0042,,bob-password\n" +
		"doc@roster.test,\"Doe, Dana\",doctor,,,Chemistry,\n"

	t.Run("students and doctors may not", func(t *testing.T) {
		w := e.world()
		e.uploadForm("/users/import", w.studentA.Access, []byte(csvFile)).wantError(t, http.StatusForbidden, "forbidden")
		e.uploadForm("/users/import", w.doctor.Access, []byte(csvFile)).wantError(t, http.StatusForbidden, "forbidden")
	})

	t.Run("a dry run validates and creates nothing", func(t *testing.T) {
		before := e.head()
		var got rosterResp
		e.uploadForm("/users/import", e.admin.Access, []byte(csvFile), "dry_run", "true").want(t, http.StatusOK).decode(t, &got)
		if !got.DryRun || got.Created != 0 || len(got.Users) != 3 || len(got.GeneratedPasswords) != 0 || *got.Users[0].LevelID != level {
			t.Fatalf("%+v", got)
		}
		if e.head() != before {
			t.Fatal("a dry run appended events")
		}
	})

	t.Run("every bad row is listed and nothing is created", func(t *testing.T) {
		bad := csvFile + "ann@roster.test,Ann Again,admin,,,,\n" + "x,No Email,student,Nowhere,,,short\n"
		before := e.head()
		eb := e.uploadForm("/users/import", e.admin.Access, []byte(bad)).wantError(t, http.StatusBadRequest, "validation_failed").errorBody(t)
		rows, _ := eb.Error.Details["rows"].([]any)
		var got []string
		for _, r := range rows {
			m := r.(map[string]any)
			got = append(got, fmt.Sprintf("%v %v: %v", m["row"], m["field"], m["reason"]))
		}
		want := []string{"5 email: appears twice in the file (first in row 2)", "6 email: is not a valid email address",
			"6 level: no such level (give its name or id)", "6 password: must be at least 8 characters"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if e.head() != before {
			t.Fatal("a refused roster appended events")
		}
		e.post("/auth/login", "", map[string]string{"email": "bob@roster.test", "password": "bob-password"}).wantError(t, http.StatusUnauthorized, "invalid_credentials")
	})

	var got rosterResp
	e.uploadForm("/users/import", e.admin.Access, []byte(csvFile)).want(t, http.StatusOK).decode(t, &got)
	if got.Created != 3 || len(got.GeneratedPasswords) != 2 {
		t.Fatalf("%+v", got)
	}
	ann := e.login("ann@roster.test", got.GeneratedPasswords[0].Password)
	if ann.Role != "student" || ann.LevelID != level {
		t.Fatalf("ann %+v", ann)
	}
	var me userView
	e.get("/me", ann.Access).want(t, http.StatusOK).decode(t, &me)
	if me.IDNumber == nil || *me.IDNumber != "000123" {
		t.Fatalf("id_number %v", me.IDNumber)
	}
	e.login("bob@roster.test", "bob-password")
	e.login("doc@roster.test", got.GeneratedPasswords[1].Password)

	t.Run("emails now taken", func(t *testing.T) {
		eb := e.uploadForm("/users/import", e.admin.Access, []byte(csvFile)).wantError(t, http.StatusBadRequest, "validation_failed").errorBody(t)
		if rows, _ := eb.Error.Details["rows"].([]any); len(rows) != 3 {
			t.Fatalf("%v", eb.Error.Details)
		}
	})

	t.Run("export in the same columns", func(t *testing.T) {
		r := e.get("/users/export?format=csv", e.admin.Access).want(t, http.StatusOK)
		if !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment;") {
			t.Fatalf("Content-Disposition %q", r.header.Get("Content-Disposition"))
		}
		recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(recs[0], ",") != "email,full_name,role,level,id_number,subject,password" {
			t.Fatalf("header %v", recs[0])
		}
		found := false
		for _, rec := range recs[1:] {
			if rec[0] == "ann@roster.test" {
				found = true
				if rec[3] != levelName || rec[4] != "000123" || rec[6] != "" {
					t.Fatalf("ann's row %v", rec)
				}
			}
		}
		if !found {
			t.Fatal("ann is not exported")
		}
		x := e.get("/users/export?format=xlsx", e.admin.Access).want(t, http.StatusOK)
		f, err := excelize.OpenReader(bytes.NewReader(x.body))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, _ := f.GetRows("Users")
		if len(rows) != len(recs) {
			t.Fatalf("xlsx has %d rows, csv %d", len(rows), len(recs))
		}
		e.get("/users/export", ann.Access).wantError(t, http.StatusForbidden, "forbidden")
	})
}

// TestRosterImportOf500Rows: the size a school imports at once.
func TestRosterImportOf500Rows(t *testing.T) {
	t.Parallel()
	e := start(t)
	levelName := e.unique("Year")
	e.createLevel(levelName)
	var b strings.Builder
	b.WriteString("email,full_name,role,level,id_number\n")
	for i := range 500 {
		fmt.Fprintf(&b, "s%03d@big.test,Student %d,student,%s,%06d\n", i, i, levelName, i)
	}
	var got rosterResp
	e.uploadForm("/users/import", e.admin.Access, []byte(b.String())).want(t, http.StatusOK).decode(t, &got)
	if got.Created != 500 || len(got.GeneratedPasswords) != 500 {
		t.Fatalf("created %d, %d passwords", got.Created, len(got.GeneratedPasswords))
	}
	e.login("s499@big.test", got.GeneratedPasswords[499].Password)
}
