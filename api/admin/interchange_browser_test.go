package admin_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/examhall/exam/domain"
)

// TestBrowserInterchange: in Chromium, an admin imports a roster (a refused
// file listed row by row, then a preview, then the confirmation with the
// generated passwords); the doctor it created logs in with the generated
// password, imports a GIFT file into a draft, publishes it and exports it
// as a QTI package. Screenshots in artifacts/screenshots/interchange/.
func TestBrowserInterchange(t *testing.T) {
	e := start(t)
	levelID := e.level("Year 5")
	b := newBrowserIn(t, e, "interchange")
	tmp := t.TempDir()
	ctx := context.Background()

	b.login(adminEmail, adminPassword)
	b.run("the users page offers an import", b.open("/admin/users"), chromedp.Click(chromedp.CSS("#roster-import")),
		chromedp.WaitVisible(chromedp.CSS("#roster-file")))
	bad := filepath.Join(tmp, "bad.csv")
	if err := os.WriteFile(bad, []byte("email,full_name,role,level\nnot-an-email,Nobody,student,Year 9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.run("preview a bad roster", chromedp.SetUploadFiles(chromedp.CSS("#roster-file"), []string{bad}),
		chromedp.Click(chromedp.CSS("#roster-preview")), chromedp.WaitVisible(chromedp.CSS("#roster-problems")))
	if got := b.text("#roster-problems"); !strings.Contains(got, "email") || !strings.Contains(got, "no such level") {
		t.Fatalf("problems: %q", got)
	}
	b.screenshot("roster-refused")
	good := filepath.Join(tmp, "roster.csv")
	if err := os.WriteFile(good, []byte("email,full_name,role,level,id_number,subject\n"+
		"ada@roster.test,Dr Ada,doctor,,,Biology\nsam@roster.test,Sam Student,student,Year 5,000042,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.run("preview the roster", chromedp.SetUploadFiles(chromedp.CSS("#roster-file"), []string{good}),
		chromedp.Click(chromedp.CSS("#roster-preview")), chromedp.WaitVisible(chromedp.CSS("#roster-confirm")))
	if got := b.text("#roster-users"); !strings.Contains(got, "000042") || !strings.Contains(got, "Year 5") {
		t.Fatalf("preview: %q", got)
	}
	if u, _ := e.p.Commands.Repo.LoadUserByEmail(ctx, "ada@roster.test"); u != nil {
		t.Fatal("the preview created a user")
	}
	b.screenshot("roster-preview")
	b.run("confirm", chromedp.Click(chromedp.CSS("#roster-confirm")), chromedp.WaitVisible(chromedp.CSS("#roster-passwords")))
	rows := b.text("#roster-passwords tbody")
	var adaPassword string
	for _, line := range strings.Split(rows, "\n") {
		if f := strings.Split(line, "\t"); len(f) == 2 && f[0] == "ada@roster.test" {
			adaPassword = strings.TrimSpace(f[1])
		}
	}
	if len(adaPassword) != 16 {
		t.Fatalf("generated passwords: %q", rows)
	}
	b.screenshot("roster-created")
	b.logout()

	b.login("ada@roster.test", adaPassword)
	b.run("create a draft", b.open("/admin/exams/new"), chromedp.WaitVisible(chromedp.CSS("#title")),
		chromedp.SendKeys(chromedp.CSS("#title"), "Imported from GIFT"),
		chromedp.SetValue(chromedp.CSS("#level_id"), levelID),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#question-import")))
	loc, _ := value(b, chromedp.Location())
	examID := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], e.srv.URL+"/admin/exams/")
	gift := filepath.Join(tmp, "bank.gift")
	if err := os.WriteFile(gift, []byte(`// A bank from Moodle.
::ATP::Which organelle makes ATP? {~Nucleus =Mitochondrion ~Ribosome}

::Walls::Plant cells have a cell wall. {TRUE}

// examhall: points=2
::Animal::Which are found in animal cells? {~%50%Cell membrane ~%50%Lysosome ~%-100%Chloroplast}

::Essay::Describe a cell. {}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	b.screenshot("exam-import-form")
	b.run("import with an unsupported question", chromedp.SetUploadFiles(chromedp.CSS("#qfile"), []string{gift}),
		chromedp.Click(chromedp.CSS("#question-import-submit")), chromedp.WaitVisible(chromedp.CSS("#import-items")))
	b.screenshot("question-import-refused")
	b.run("import, skipping it", b.open("/admin/exams/"+examID), chromedp.WaitVisible(chromedp.CSS("#qfile")),
		chromedp.SetUploadFiles(chromedp.CSS("#qfile"), []string{gift}), chromedp.SetValue(chromedp.CSS("#qformat"), "gift"),
		chromedp.Click(chromedp.CSS("#qskip")),
		chromedp.Click(chromedp.CSS("#question-import-submit")), chromedp.WaitVisible(chromedp.CSS("#question-import-ok")))
	if got := b.text("#question-import-ok"); got != "Imported 3 question(s)." {
		t.Fatalf("import: %q", got)
	}
	b.screenshot("question-import-done")
	b.run("publish", b.open("/admin/exams/"+examID), chromedp.WaitVisible(chromedp.CSS("#publish")),
		chromedp.Click(chromedp.CSS("#publish")), chromedp.WaitVisible(chromedp.CSS("#close")))
	b.screenshot("exam-imported")
	ex, err := e.p.Commands.Repo.LoadExam(ctx, examID)
	if err != nil || ex.Status != domain.StatusOpen || len(ex.Questions) != 3 || ex.Questions[2].Points != 2 || ex.Questions[1].Kind != domain.KindTrueFalse {
		t.Fatalf("the exam: %+v %v", ex, err)
	}
	res, body := b.get("/admin/exams/" + examID + "/questions/export?format=qti")
	if res.StatusCode != 200 || !strings.HasPrefix(string(body), "PK") || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("qti export: %d %v", res.StatusCode, res.Header)
	}
}
