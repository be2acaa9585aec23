package admin_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/examhall/exam/domain"
)

func TestAdminManagesUsers(t *testing.T) {
	t.Parallel()
	e := start(t)
	lvl := e.level("Year 2")
	c := e.client()
	c.mustLogin(adminEmail, adminPassword)
	tok := c.csrf("/admin/users/new")

	// A bad form comes back with the problem next to the field.
	p := c.post("/admin/users", url.Values{"csrf_token": {tok}, "email": {"not-an-email"}, "password": {"short"},
		"full_name": {"Nobody"}, "role": {"student"}, "level_id": {lvl}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `class="field-error"`) || !strings.Contains(p.body, `value="Nobody"`) {
		t.Fatalf("invalid user form: %d", p.status)
	}

	p = c.post("/admin/users", url.Values{"csrf_token": {tok}, "email": {"kim@school.test"}, "password": {password},
		"full_name": {"Kim"}, "role": {"student"}, "level_id": {lvl}, "id_number": {"S-1"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("create user: %d %s", p.status, p.body)
	}
	userPath := strings.SplitN(p.header.Get("Location"), "?", 2)[0]
	u, err := e.p.Commands.Repo.LoadUserByEmail(context.Background(), "kim@school.test")
	if err != nil || u == nil || u.LevelID != lvl || u.IDNumber != "S-1" || userPath != "/admin/users/"+u.ID {
		t.Fatalf("created user: %+v %v (%s)", u, err, userPath)
	}
	if l := c.get("/admin/users?role=student&level=" + lvl + "&q=kim"); !strings.Contains(l.body, "kim@school.test") {
		t.Fatal("the filtered list does not show the new student")
	}
	if l := c.get("/admin/users?role=doctor&q=kim"); strings.Contains(l.body, "kim@school.test") {
		t.Fatal("the doctors filter shows a student")
	}

	if p := c.post(userPath, url.Values{"csrf_token": {tok}, "full_name": {"Kim Lee"}, "level_id": {lvl}, "id_number": {"S-2"}}); p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", p.status, p.body)
	}
	if p := c.post(userPath+"/password", url.Values{"csrf_token": {tok}, "password": {"a-new-password-1"}}); p.status != http.StatusSeeOther {
		t.Fatalf("reset password: %d", p.status)
	}
	u, _ = e.p.Commands.Repo.LoadUser(context.Background(), u.ID)
	if u.FullName != "Kim Lee" || u.IDNumber != "S-2" {
		t.Fatalf("after edit: %+v", u)
	}
	if st, _ := e.api(http.MethodPost, "/auth/login", "", map[string]string{"email": "kim@school.test", "password": "a-new-password-1"}); st != http.StatusOK {
		t.Fatalf("login with the reset password: %d", st)
	}
	if p := c.post(userPath+"/active", url.Values{"csrf_token": {tok}, "active": {"false"}}); p.status != http.StatusSeeOther {
		t.Fatalf("deactivate: %d", p.status)
	}
	if st, _ := e.api(http.MethodPost, "/auth/login", "", map[string]string{"email": "kim@school.test", "password": "a-new-password-1"}); st != http.StatusUnauthorized {
		t.Fatalf("a deactivated user logs in: %d", st)
	}
	if p := c.get(userPath); !strings.Contains(p.body, "Reactivate this user") {
		t.Fatal("the user page does not offer reactivation")
	}
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// multipartPost sends fields (and an image as "image") as multipart/form-data.
func (c *client) multipartPost(path string, fields url.Values, img []byte) page {
	c.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if img != nil {
		w, _ := mw.CreateFormFile("image", "q.png")
		_, _ = w.Write(img)
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func TestDoctorEditsADraftExam(t *testing.T) {
	t.Parallel()
	e := start(t)
	lvl := e.level("Year 3")
	doc := e.user(domain.RoleDoctor, "Dr Edit", "")
	c := e.client()
	c.mustLogin(doc.Email, password)
	tok := c.csrf("/admin/exams/new")
	ctx := context.Background()

	p := c.post("/admin/exams", url.Values{"csrf_token": {tok}, "title": {"Draft"}, "level_id": {lvl}, "opens_at": {"yesterday"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "must be a date and time") {
		t.Fatalf("bad date: %d", p.status)
	}
	p = c.post("/admin/exams", url.Values{"csrf_token": {tok}, "title": {"Draft"}, "level_id": {lvl}, "time_limit_minutes": {"20"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("create exam: %d %s", p.status, p.body)
	}
	examPath := strings.SplitN(p.header.Get("Location"), "?", 2)[0]
	id := strings.TrimPrefix(examPath, "/admin/exams/")

	p = c.multipartPost(examPath+"/questions", url.Values{"csrf_token": {tok}, "text": {"2 + 2?"}, "kind": {"single"},
		"choice_a": {"3"}, "choice_b": {"4"}, "correct": {"b"}, "points": {"3"}}, pngBytes(t))
	if p.status != http.StatusSeeOther {
		t.Fatalf("add question: %d %s", p.status, p.body)
	}
	ex, _ := e.p.Commands.Repo.LoadExam(ctx, id)
	if len(ex.Questions) != 1 || ex.Questions[0].ImageID == "" || ex.Questions[0].Points != 3 || ex.TimeLimitSeconds != 1200 {
		t.Fatalf("after adding: %+v", ex)
	}
	q := ex.Questions[0]
	if img := c.get("/admin/images/" + q.ImageID); img.status != http.StatusOK || img.header.Get("Content-Type") != "image/png" {
		t.Fatalf("image: %d %q", img.status, img.header.Get("Content-Type"))
	}
	// A question with no correct answer is refused with the reason.
	p = c.multipartPost(examPath+"/questions", url.Values{"csrf_token": {tok}, "text": {"Pick"}, "kind": {"single"},
		"choice_a": {"x"}, "choice_b": {"y"}}, nil)
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `class="field-error"`) {
		t.Fatalf("question without a key: %d", p.status)
	}

	p = c.multipartPost(examPath+"/questions/"+q.ID, url.Values{"csrf_token": {tok}, "text": {"2 + 3?"}, "kind": {"single"},
		"choice_a": {"5"}, "choice_b": {"6"}, "correct": {"a"}, "points": {"1"}, "image_id": {q.ImageID}}, nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("update question: %d %s", p.status, p.body)
	}
	ex, _ = e.p.Commands.Repo.LoadExam(ctx, id)
	if ex.Questions[0].Text != "2 + 3?" || ex.Questions[0].Correct[0] != "a" || ex.Questions[0].ImageID != q.ImageID {
		t.Fatalf("after the update: %+v", ex.Questions[0])
	}
	p = c.multipartPost(examPath+"/questions", url.Values{"csrf_token": {tok}, "text": {"Sky is blue"}, "kind": {"true_false"},
		"correct": {"true"}}, nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("add true/false: %d %s", p.status, p.body)
	}
	ex, _ = e.p.Commands.Repo.LoadExam(ctx, id)
	if p := c.post(examPath+"/questions/"+ex.Questions[1].ID+"/delete", url.Values{"csrf_token": {tok}}); p.status != http.StatusSeeOther {
		t.Fatalf("remove: %d", p.status)
	}
	p = c.post(examPath, url.Values{"csrf_token": {tok}, "version": {"1"}, "title": {"Stale"}, "level_id": {lvl}})
	if p.status == http.StatusSeeOther {
		t.Fatal("an edit from a stale form overwrote the exam")
	}
	ex, _ = e.p.Commands.Repo.LoadExam(ctx, id)
	p = c.post(examPath, url.Values{"csrf_token": {tok}, "version": {itoa(ex.Version)}, "title": {"Final"}, "level_id": {lvl},
		"opens_at": {"2030-01-02T09:00"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("edit details: %d %s", p.status, p.body)
	}
	ex, _ = e.p.Commands.Repo.LoadExam(ctx, id)
	if ex.Title != "Final" || len(ex.Questions) != 1 || ex.OpensAt == nil || ex.OpensAt.Hour() != 9 {
		t.Fatalf("after editing the details: %+v", ex)
	}
	if p := c.post(examPath+"/publish", url.Values{"csrf_token": {tok}, "version": {itoa(ex.Version)}}); p.status != http.StatusSeeOther {
		t.Fatalf("publish: %d %s", p.status, p.body)
	}
	p = c.multipartPost(examPath+"/questions", url.Values{"csrf_token": {tok}, "text": {"Late"}, "kind": {"true_false"}, "correct": {"true"}}, nil)
	if p.status != http.StatusConflict {
		t.Fatalf("adding to a published exam: %d", p.status)
	}
	if p := c.get(examPath); !strings.Contains(p.body, "scheduled") || strings.Contains(p.body, "/edit\"") {
		t.Fatal("the published exam's page still offers editing")
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
