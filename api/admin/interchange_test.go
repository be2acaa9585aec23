package admin_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/examhall/exam/domain"
)

// filePost sends fields and a file (as "file") as multipart/form-data.
func (c *client) filePost(path string, fields url.Values, file []byte) page {
	c.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	w, _ := mw.CreateFormFile("file", "upload")
	_, _ = w.Write(file)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

const adminGIFT = `::Cells::What is the powerhouse of the cell? {~Nucleus =Mitochondrion ~Ribosome}

::Walls::Plant cells have walls. {T}

::Essay::Describe a cell. {}
`

func TestAdminImportsAndExportsQuestions(t *testing.T) {
	t.Parallel()
	e := start(t)
	lvl := e.level("Year 3")
	doc := e.user(domain.RoleDoctor, "Dr Import", "")
	res, err := e.p.Commands.DraftExam.Handle(context.Background(), e.meta(doc.Actor()), domain.ExamDraftInput{Title: "Imported", LevelID: lvl})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Exam.ID
	c := e.client()
	c.mustLogin(doc.Email, password)
	tok := c.csrf("/admin/exams/" + id)

	before := e.head()
	p := c.filePost("/admin/exams/"+id+"/questions/import", url.Values{"csrf_token": {tok}}, []byte(adminGIFT))
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="import-items"`) || !strings.Contains(p.body, "Essay") {
		t.Fatalf("a file with an essay: %d %s", p.status, p.body)
	}
	if e.head() != before {
		t.Fatal("a refused import appended")
	}
	p = c.filePost("/admin/exams/"+id+"/questions/import", url.Values{"csrf_token": {tok}, "skip_unsupported": {"true"}, "format": {"gift"}}, []byte(adminGIFT))
	if p.status != http.StatusOK || !strings.Contains(p.body, "Imported 2 question(s).") || !strings.Contains(p.body, `id="import-skipped"`) {
		t.Fatalf("import: %d %s", p.status, p.body)
	}
	ex, _ := e.p.Commands.Repo.LoadExam(context.Background(), id)
	if len(ex.Questions) != 2 || ex.Questions[1].Kind != domain.KindTrueFalse {
		t.Fatalf("questions %+v", ex.Questions)
	}
	if p := c.filePost("/admin/exams/"+id+"/questions/import", url.Values{}, []byte(adminGIFT)); p.status != http.StatusForbidden {
		t.Fatalf("without the CSRF token: %d", p.status)
	}

	x := c.get("/admin/exams/" + id + "/questions/export?format=qti")
	if x.status != http.StatusOK || x.header.Get("Content-Type") != "application/zip" || !strings.HasPrefix(x.body, "PK") {
		t.Fatalf("qti export: %d %q", x.status, x.header)
	}
	if x := c.get("/admin/exams/" + id + "/questions/export?format=aiken"); x.status != http.StatusBadRequest || !strings.Contains(x.body, "cannot carry") {
		t.Fatalf("aiken export of a true/false question: %d", x.status)
	}
	other := e.user(domain.RoleDoctor, "Dr Other", "")
	c2 := e.client()
	c2.mustLogin(other.Email, password)
	if x := c2.get("/admin/exams/" + id + "/questions/export?format=gift"); x.status != http.StatusNotFound {
		t.Fatalf("another doctor's export: %d", x.status)
	}
}

func TestAdminImportsARoster(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.level("Year 4")
	c := e.client()
	c.mustLogin(adminEmail, adminPassword)
	tok := c.csrf("/admin/users/import")
	roster := "email,full_name,role,level,id_number\nzoe@roster.test,Zoe,student,Year 4,00077\nyan@roster.test,Yan,doctor,,\n"

	bad := c.filePost("/admin/users/import/preview", url.Values{"csrf_token": {tok}}, []byte(roster+"x,X,pilot,,\n"))
	if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, `id="roster-problems"`) || !strings.Contains(bad.body, "pilot") && !strings.Contains(bad.body, "role") {
		t.Fatalf("bad roster: %d %s", bad.status, bad.body)
	}
	before := e.head()
	p := c.filePost("/admin/users/import/preview", url.Values{"csrf_token": {tok}}, []byte(roster))
	if p.status != http.StatusOK || !strings.Contains(p.body, "2 user(s) will be created") || !strings.Contains(p.body, "00077") {
		t.Fatalf("preview: %d %s", p.status, p.body)
	}
	if e.head() != before {
		t.Fatal("the preview appended")
	}
	file := regexp.MustCompile(`name="roster" value="([^"]+)"`).FindStringSubmatch(p.body)
	if file == nil {
		t.Fatal("no file carried to the confirmation")
	}
	done := c.post("/admin/users/import", url.Values{"csrf_token": {tok}, "roster": {file[1]}})
	if done.status != http.StatusOK || !strings.Contains(done.body, "Created 2 user(s).") {
		t.Fatalf("confirm: %d %s", done.status, done.body)
	}
	pw := regexp.MustCompile(`<td>zoe@roster.test</td><td><code>([^<]+)</code>`).FindStringSubmatch(done.body)
	if pw == nil {
		t.Fatal("no generated password shown")
	}
	if st, _ := e.api(http.MethodPost, "/auth/login", "", map[string]string{"email": "zoe@roster.test", "password": pw[1]}); st != http.StatusOK {
		t.Fatalf("the generated password does not log in: %d", st)
	}
	if x := c.get("/admin/users/export?format=csv"); x.status != http.StatusOK || !strings.Contains(x.body, "zoe@roster.test,Zoe,student,Year 4,00077") {
		t.Fatalf("export: %d %s", x.status, x.body)
	}
}
