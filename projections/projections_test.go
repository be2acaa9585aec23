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

// counting counts the records it is given per category, and those with a
// decoded payload.
type counting struct{ n, decoded map[string]int }

func (c *counting) Name() string         { return "counting" }
func (c *counting) Categories() []string { return []string{domain.CategoryGrades, domain.CategoryExam} }
func (c *counting) Apply(_ context.Context, batch []projections.Delivered) error {
	for _, d := range batch {
		c.n[eventstore.Category(d.Record.StreamID)]++
		if d.Data != nil {
			c.decoded[eventstore.Category(d.Record.StreamID)]++
		}
	}
	return nil
}

func record(t *testing.T, stream string, version int64, typ string, data any) eventstore.Record {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.Record{EventID: uuid.NewString(), StreamID: stream, Version: version, Type: typ, OccurredAt: time.Now().UTC(), Data: b}
}

// The runner hands each projection only the records of its categories,
// decoded; the in-process read models apply each stream version once.
func TestRunnerDeliversByCategoryAndReadModelsApplyEachVersionOnce(t *testing.T) {
	ctx := context.Background()
	c := &counting{n: map[string]int{}, decoded: map[string]int{}}
	catalog, results := projections.NewCatalog(), projections.NewResults()
	r := projections.NewRunner(nil, c, catalog, results)
	apply := func(rec eventstore.Record) {
		t.Helper()
		if err := r.ApplyRecord(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	scored := record(t, domain.GradesStream("e1"), 1, domain.TypeAttemptScored, &domain.AttemptScored{ExamID: "e1", StudentID: "s1", Score: 3, MaxScore: 5})
	apply(scored)
	apply(scored) // a redelivery
	// No projection here reads attempts: the record is not delivered.
	apply(record(t, domain.AttemptStream("a1"), 1, domain.TypeAnswerSaved, &domain.AnswerSaved{QuestionID: "q"}))
	if c.n[domain.CategoryGrades] != 2 || c.n[domain.CategoryAttempt] != 0 {
		t.Fatalf("counts %v: want the grades record twice and no attempt records delivered", c.n)
	}
	row, ok := results.StudentResult("e1", "s1")
	if !ok || row.Score != 3 {
		t.Fatalf("result %+v %v", row, ok)
	}
	// A redelivered exam event is not folded twice: the question stays one.
	q := domain.Question{ID: "q1", Text: "?", Kind: domain.KindSingle, Choices: []domain.Choice{{Key: "a", Text: "x"}, {Key: "b", Text: "y"}}, Correct: []string{"b"}, Points: 1}
	apply(record(t, domain.ExamStream("e1"), 1, domain.TypeExamDrafted, &domain.ExamDrafted{ExamID: "e1", Title: "T", LevelID: "l1"}))
	added := record(t, domain.ExamStream("e1"), 2, domain.TypeQuestionAdded, &domain.QuestionAdded{ExamID: "e1", Question: q})
	apply(added)
	apply(added)
	if e, ok := catalog.Exam("e1"); !ok || len(e.Questions) != 1 || e.Version != 2 {
		t.Fatalf("exam after a redelivered question: %+v", e)
	}
	// Unknown event types are delivered undecoded, not fatal, and count as
	// the stream's version.
	apply(record(t, domain.ExamStream("e1"), 3, "exam.something_new.v9", map[string]any{}))
	if c.n[domain.CategoryExam] != 4 || c.decoded[domain.CategoryExam] != 3 {
		t.Fatalf("exam records %d (decoded %d), want 4 (3)", c.n[domain.CategoryExam], c.decoded[domain.CategoryExam])
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
		if _, err := r.CatchUp(ctx, store, 0, nil); err != nil {
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
		// Catching up again reads everything again and applies nothing
		// twice.
		if _, err := r.CatchUp(ctx, store, 0, nil); err != nil || r.Applied() != 12 {
			t.Fatalf("second catch-up handed over %d (err %v)", r.Applied(), err)
		}
		if e, _ := catalog.Exam("e1"); e.Version != 2 || len(results.ExamResults("e1")) != 2 {
			t.Fatalf("after a second catch-up: exam %+v, %d results", e, len(results.ExamResults("e1")))
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
	ctx := context.Background()
	_ = r.ApplyRecord(ctx, record(t, domain.ExamStream("e1"), 1, domain.TypeExamDrafted, &domain.ExamDrafted{ExamID: "e1", Title: "T", LevelID: "l1", Questions: []domain.Question{q}}))
	if _, ok, _ := cache.Get(ctx, "e1"); ok {
		t.Fatal("a draft was served to students")
	}
	_ = r.ApplyRecord(ctx, record(t, domain.ExamStream("e1"), 2, domain.TypeExamPublished, &domain.ExamPublished{ExamID: "e1", Status: domain.StatusOpen}))
	doc, ok, err := cache.Get(ctx, "e1")
	if err != nil || !ok {
		t.Fatalf("published exam not served: %v", err)
	}
	if strings.Contains(string(doc.Body), "secret-key-b") {
		t.Fatalf("student document holds the key before grading: %s", doc.Body)
	}
	_ = r.ApplyRecord(ctx, record(t, domain.ExamStream("e1"), 3, domain.TypeExamClosed, &domain.ExamClosed{ExamID: "e1"}))
	_ = r.ApplyRecord(ctx, record(t, domain.ExamStream("e1"), 4, domain.TypeExamGraded, &domain.ExamGraded{ExamID: "e1", Round: 1}))
	doc, _, _ = cache.Get(ctx, "e1")
	if doc.Version != 4 || !strings.Contains(string(doc.Body), "secret-key-b") {
		t.Fatalf("graded exam: version %d, body %s", doc.Version, doc.Body)
	}
}
