package projections_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/embedded"
	"github.com/examhall/exam/projections"
	"github.com/google/uuid"
)

// counting counts the events it is given per category.
type counting struct{ n map[string]int }

func (c *counting) Name() string         { return "counting" }
func (c *counting) Categories() []string { return []string{domain.CategoryGrades, domain.CategoryExam} }
func (c *counting) Apply(rec eventstore.Record, _ any) {
	c.n[eventstore.Category(rec.StreamID)]++
}

func record(t *testing.T, stream string, version int64, typ string, data any) eventstore.Record {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.Record{EventID: uuid.NewString(), StreamID: stream, Version: version, Type: typ, OccurredAt: time.Now().UTC(), Data: b}
}

func TestRunnerAppliesEachStreamVersionOnce(t *testing.T) {
	c := &counting{n: map[string]int{}}
	results := projections.NewResults()
	r := projections.NewRunner(nil, c, results)
	scored := record(t, domain.GradesStream("e1"), 1, domain.TypeAttemptScored, &domain.AttemptScored{ExamID: "e1", StudentID: "s1", Score: 3, MaxScore: 5})
	if !r.ApplyRecord(scored) {
		t.Fatal("first delivery not applied")
	}
	if r.ApplyRecord(scored) {
		t.Fatal("redelivery applied again")
	}
	// An attempt event is recorded as applied but decoded for no one: no
	// projection reads attempts.
	if !r.ApplyRecord(record(t, domain.AttemptStream("a1"), 1, domain.TypeAnswerSaved, &domain.AnswerSaved{QuestionID: "q"})) {
		t.Fatal("attempt event not recorded")
	}
	if c.n[domain.CategoryGrades] != 1 || c.n[domain.CategoryAttempt] != 0 {
		t.Fatalf("counts %v: want one grades event and no attempt events delivered", c.n)
	}
	row, ok := results.StudentResult("e1", "s1")
	if !ok || row.Score != 3 {
		t.Fatalf("result %+v %v", row, ok)
	}
	// Unknown event types are skipped, not fatal.
	if !r.ApplyRecord(record(t, domain.ExamStream("e1"), 1, "exam.something_new.v9", map[string]any{})) {
		t.Fatal("unknown type not recorded as applied")
	}
}

func TestCatchUpRebuildsReadModelsFromTheLog(t *testing.T) {
	store, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	appendRec := func(rec eventstore.Record) {
		if _, err := store.Append(ctx, rec.StreamID, rec.Version-1, []eventstore.Record{rec}); err != nil {
			t.Fatal(err)
		}
	}
	appendRec(record(t, domain.LevelStream("l1"), 1, domain.TypeLevelCreated, &domain.LevelCreated{LevelID: "l1", Name: "Year 1"}))
	appendRec(record(t, domain.UserStream("u1"), 1, domain.TypeUserRegistered, &domain.UserRegistered{UserID: "u1", Email: "u1@x.test", Role: domain.RoleStudent, LevelID: "l1"}))
	appendRec(record(t, domain.ExamStream("e1"), 1, domain.TypeExamDrafted, &domain.ExamDrafted{ExamID: "e1", Title: "T", LevelID: "l1", OwnerID: "d1",
		Questions: []domain.Question{{ID: "q1", Text: "?", Kind: domain.KindSingle, Choices: []domain.Choice{{Key: "a", Text: "x"}, {Key: "b", Text: "y"}}, Correct: []string{"b"}, Points: 1}}}))
	appendRec(record(t, domain.ExamStream("e1"), 2, domain.TypeExamPublished, &domain.ExamPublished{ExamID: "e1", Status: domain.StatusOpen}))
	for _, s := range []string{"s1", "s2"} {
		appendRec(record(t, domain.GradesStream("e1")+"", int64(map[string]int{"s1": 1, "s2": 2}[s]), domain.TypeAttemptScored,
			&domain.AttemptScored{ExamID: "e1", StudentID: s, Score: 1, MaxScore: 1}))
	}

	// Twice from zero: each rebuild gives the same read models.
	for round := 0; round < 2; round++ {
		catalog, results := projections.NewCatalog(), projections.NewResults()
		r := projections.NewRunner(nil, catalog, results)
		if _, err := r.CatchUp(ctx, store, nil); err != nil {
			t.Fatal(err)
		}
		if r.Applied() != 6 {
			t.Fatalf("applied %d events, want 6", r.Applied())
		}
		e, ok := catalog.Exam("e1")
		if !ok || e.Status != domain.StatusOpen || e.Version != 2 {
			t.Fatalf("exam %+v", e)
		}
		if u, ok := catalog.User("u1"); !ok || u.LevelID != "l1" {
			t.Fatalf("user %+v", u)
		}
		if n := len(results.ExamResults("e1")); n != 2 {
			t.Fatalf("%d results, want 2", n)
		}
		// Catching up again applies nothing twice.
		if _, err := r.CatchUp(ctx, store, nil); err != nil || r.Applied() != 6 {
			t.Fatalf("second catch-up applied %d (err %v)", r.Applied(), err)
		}
	}
}

func TestStudentCacheNeverHoldsKeysBeforeGrading(t *testing.T) {
	catalog := projections.NewCatalog()
	var rendered []*domain.Exam
	cache := projections.NewStudentExamCache(catalog, nil, func(e *domain.Exam) ([]byte, error) {
		rendered = append(rendered, e)
		return json.Marshal(e)
	})
	r := projections.NewRunner(nil, catalog, cache)
	q := domain.Question{ID: "q1", Text: "?", Kind: domain.KindSingle, Choices: []domain.Choice{{Key: "a", Text: "x"}, {Key: "b", Text: "y"}}, Correct: []string{"secret-key-b"}, Points: 1}
	r.ApplyRecord(record(t, domain.ExamStream("e1"), 1, domain.TypeExamDrafted, &domain.ExamDrafted{ExamID: "e1", Title: "T", LevelID: "l1", Questions: []domain.Question{q}}))
	ctx := context.Background()
	if _, ok, _ := cache.Get(ctx, "e1"); ok {
		t.Fatal("a draft was served to students")
	}
	r.ApplyRecord(record(t, domain.ExamStream("e1"), 2, domain.TypeExamPublished, &domain.ExamPublished{ExamID: "e1", Status: domain.StatusOpen}))
	doc, ok, err := cache.Get(ctx, "e1")
	if err != nil || !ok {
		t.Fatalf("published exam not served: %v", err)
	}
	if strings.Contains(string(doc.Body), "secret-key-b") {
		t.Fatalf("student document holds the key before grading: %s", doc.Body)
	}
	r.ApplyRecord(record(t, domain.ExamStream("e1"), 3, domain.TypeExamClosed, &domain.ExamClosed{ExamID: "e1"}))
	r.ApplyRecord(record(t, domain.ExamStream("e1"), 4, domain.TypeExamGraded, &domain.ExamGraded{ExamID: "e1", Round: 1}))
	doc, _, _ = cache.Get(ctx, "e1")
	if doc.Version != 4 || !strings.Contains(string(doc.Body), "secret-key-b") {
		t.Fatalf("graded exam: version %d, body %s", doc.Version, doc.Body)
	}
}
