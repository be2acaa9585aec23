package pgread_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
	"github.com/examhall/exam/projections/pgread"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)

func rec(t testing.TB, stream string, version int64, typ string, data any) eventstore.Record {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.Record{StreamID: stream, Version: version, Type: typ, Data: b}
}

func drafted(t testing.TB, id string) eventstore.Record {
	return rec(t, domain.ExamStream(id), 1, domain.TypeExamDrafted, &domain.ExamDrafted{ExamID: id, Title: "T", LevelID: "L1",
		OwnerID: "d1", CreatedAt: t0})
}

func published(t testing.TB, id string, version int64) eventstore.Record {
	return rec(t, domain.ExamStream(id), version, domain.TypeExamPublished, &domain.ExamPublished{ExamID: id,
		Status: domain.StatusOpen, PublishedAt: t0})
}

func offsets(t *testing.T, s *pgread.Store, projection string) map[string]map[int32]int64 {
	t.Helper()
	got, err := s.Offsets(t.Context(), projection)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func applied(t *testing.T, s *pgread.Store, projection, stream string) int64 {
	t.Helper()
	v, err := s.Applied(t.Context(), projection, stream)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOffsetsMoveWithTheRows: the partition offset is written with the rows
// and the stream checkpoint, only ever rises, and a transaction that fails
// after writing rows leaves rows, checkpoint and offset as they were.
func TestOffsetsMoveWithTheRows(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	cat := s.Catalog()
	ctx := t.Context()
	from := func(off int64) projections.Delivery {
		return projections.Delivery{Topic: "exam.exam", Partition: 3, Offset: off}
	}

	if err := cat.ApplyRecord(ctx, drafted(t, "E1"), from(10)); err != nil {
		t.Fatal(err)
	}
	if got := offsets(t, s, "catalog"); !reflect.DeepEqual(got, map[string]map[int32]int64{"exam.exam": {3: 10}}) {
		t.Fatalf("offsets = %v", got)
	}
	if v := applied(t, s, "catalog", "exam-E1"); v != 1 {
		t.Fatalf("applied = %d", v)
	}
	// A delivery without a partition (the in-process bus) writes no offset;
	// a redelivery from an older offset does not lower it; one from a newer
	// offset raises it even though no row changes.
	if err := cat.ApplyRecord(ctx, drafted(t, "E2"), projections.Delivery{Offset: -1}); err != nil {
		t.Fatal(err)
	}
	if err := cat.ApplyRecord(ctx, drafted(t, "E1"), from(4)); err != nil {
		t.Fatal(err)
	}
	if got := offsets(t, s, "catalog")["exam.exam"][3]; got != 10 {
		t.Fatalf("offset after an older redelivery = %d, want 10", got)
	}
	if err := cat.ApplyRecord(ctx, drafted(t, "E1"), from(12)); err != nil {
		t.Fatal(err)
	}
	if got := offsets(t, s, "catalog")["exam.exam"][3]; got != 12 {
		t.Fatalf("offset after a newer redelivery = %d, want 12", got)
	}
	if got := offsets(t, s, "users"); len(got) != 0 {
		t.Fatalf("another projection's offsets = %v", got)
	}

	// Make the offset write, the transaction's last statement, fail for
	// offset 666: the claim and the exam row were written before it.
	conn := connect(t)
	tbl := pgx.Identifier{s.Schema(), "rm_offsets"}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE FUNCTION `+pgx.Identifier{s.Schema(), "fail_666"}.Sanitize()+`() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN IF NEW."offset" = 666 THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER fail_666 BEFORE INSERT OR UPDATE ON `+tbl+` FOR EACH ROW EXECUTE FUNCTION `+pgx.Identifier{s.Schema(), "fail_666"}.Sanitize()+`()`); err != nil {
		t.Fatal(err)
	}
	err := cat.ApplyRecord(ctx, published(t, "E1", 2), from(666))
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("ApplyRecord = %v, want the injected failure", err)
	}
	e, _, err := s.Exam(ctx, "E1")
	if err != nil || e.Status != domain.StatusDraft || e.Version != 1 {
		t.Fatalf("exam after the failed apply = %+v, %v; want the draft at version 1", e, err)
	}
	if v := applied(t, s, "catalog", "exam-E1"); v != 1 {
		t.Fatalf("applied after the failed apply = %d, want 1", v)
	}
	if got := offsets(t, s, "catalog")["exam.exam"][3]; got != 12 {
		t.Fatalf("offset after the failed apply = %d, want 12", got)
	}
	// Delivered again (the consumer retries), it applies.
	if err := cat.ApplyRecord(ctx, published(t, "E1", 2), from(667)); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := s.Exam(ctx, "E1"); e.Status != domain.StatusOpen || e.Version != 2 {
		t.Fatalf("exam after the retry = %+v", e)
	}
	if got := offsets(t, s, "catalog")["exam.exam"][3]; got != 667 {
		t.Fatalf("offset after the retry = %d", got)
	}

	// With the pool closed, an apply fails (and so is delivered again).
	s2 := openStoreIn(t, s.Schema())
	s2.Close()
	if err := s2.Catalog().ApplyRecord(ctx, rec(t, domain.ExamStream("E1"), 3, domain.TypeExamClosed,
		&domain.ExamClosed{ExamID: "E1", ClosedAt: t0}), from(700)); err == nil {
		t.Fatal("ApplyRecord on a closed store succeeded")
	}
	if v := applied(t, s, "catalog", "exam-E1"); v != 2 {
		t.Fatalf("applied after the closed-store apply = %d, want 2", v)
	}
}

// TestDocumentsRoundTrip: the exam, user and result rows are stored as
// JSON of the domain types; every field survives, to the nanosecond, so
// the PostgreSQL model answers exactly as the in-memory one.
func TestDocumentsRoundTrip(t *testing.T) {
	t.Parallel()
	opens, closes := t0.Add(time.Hour), t0.Add(2*time.Hour+time.Nanosecond)
	exam := domain.Exam{ID: "E1", Title: "T", Description: "D", LevelID: "L1", OwnerID: "d1", Status: domain.StatusGraded,
		OpensAt: &opens, ClosesAt: &closes, TimeLimitSeconds: 60,
		Questions: []domain.Question{{ID: "q1", Text: "?", Kind: domain.KindMultiple, Choices: []domain.Choice{{Key: "a", Text: "A"}},
			Correct: []string{"a"}, Points: 1.5, NegativePoints: 0.25, ImageID: strings.Repeat("ab", 32)}},
		CreatedAt: t0, PublishedAt: &opens, ClosedAt: &closes, GradedAt: &closes, GradeRound: 2, KeyCorrections: 3,
		KeyCorrectionsGraded: 2, GradesVersion: 7, Version: 9, ShuffleQuestions: true, ShuffleChoices: true,
		Accommodations: map[string]domain.Accommodation{"s1": {ExtraSeconds: 600, TimeMultiplier: 1.5}}}
	assertAllSet(t, exam)
	assertRoundTrips(t, exam)
	user := domain.User{ID: "u1", Email: "e@x.org", FullName: "N", Role: domain.RoleStudent, LevelID: "L1", IDNumber: "7",
		Subject: "S", Active: true, SessionEpoch: 3, CreatedAt: t0, Version: 4}
	assertAllSet(t, user)
	assertRoundTrips(t, user)
	row := projections.ResultRow{ExamID: "E1", StudentID: "s1", AttemptID: "a1", Score: 0.1 + 0.2, MaxScore: 1e21, Answered: 3,
		Round: 2, GradedAt: t0, Questions: []domain.QuestionScore{{QuestionID: "q1", Choices: []string{"a"}, PointsAwarded: 1.5}},
		Overridden: true}
	assertAllSet(t, row)
	assertRoundTrips(t, row)
	assertRoundTrips(t, domain.Level{ID: "L1", Name: "N", CreatedAt: t0})

	// Through PostgreSQL (jsonb) and back: the same as folding in memory.
	s := openStore(t)
	m := newModel(s)
	mem := projections.NewCatalog()
	res := projections.NewResults()
	runner := projections.NewRunner(nil, mem, res)
	recs := []eventstore.Record{
		rec(t, domain.ExamStream("E1"), 1, domain.TypeExamDrafted, &domain.ExamDrafted{ExamID: "E1", Title: "T", Description: "D",
			LevelID: "L1", OwnerID: "d1", OpensAt: &opens, ClosesAt: &closes, TimeLimitSeconds: 60, Questions: exam.Questions, CreatedAt: t0}),
		rec(t, domain.ExamStream("E1"), 2, domain.TypeExamPublished, &domain.ExamPublished{ExamID: "E1", Status: domain.StatusScheduled,
			OpensAt: &opens, ClosesAt: &closes, PublishedAt: t0}),
		rec(t, domain.UserStream("u1"), 1, domain.TypeUserRegistered, &domain.UserRegistered{UserID: "u1", Email: "e@x.org", FullName: "N",
			Role: domain.RoleStudent, LevelID: "L1", IDNumber: "7", Subject: "S", RegisteredAt: t0}),
		rec(t, domain.GradesStream("E1"), 1, domain.TypeAttemptScored, &domain.AttemptScored{ExamID: "E1", AttemptID: "a1", StudentID: "s1",
			Round: 2, Score: 0.1 + 0.2, MaxScore: 1e21, Answered: 3, Questions: row.Questions, GradedAt: t0}),
	}
	for _, r := range recs {
		if err := runner.ApplyRecord(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		if err := m.Apply(t.Context(), r, projections.Delivery{Offset: -1}); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := mem.Exam("E1")
	got, _, err := s.Exam(t.Context(), "E1")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("exam from PostgreSQL = %+v, %v\nin memory = %+v", got, err, want)
	}
	wantU, _ := mem.User("u1")
	gotU, _, err := s.User(t.Context(), "u1")
	if err != nil || !reflect.DeepEqual(gotU, wantU) {
		t.Errorf("user from PostgreSQL = %+v, %v\nin memory = %+v", gotU, err, wantU)
	}
	wantR, _ := res.StudentResult("E1", "s1")
	gotR, _, err := s.StudentResult(t.Context(), "E1", "s1")
	if err != nil || !reflect.DeepEqual(gotR, wantR) {
		t.Errorf("result from PostgreSQL = %+v, %v\nin memory = %+v", gotR, err, wantR)
	}
}

// assertAllSet fails if a field of v is zero, so that a round trip test
// covers every field (a new field must be added to the fixture).
func assertAllSet(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if !rv.Type().Field(i).IsExported() {
			t.Errorf("%T.%s is unexported: it would not survive the JSON document", v, rv.Type().Field(i).Name)
		}
		if rv.Field(i).IsZero() {
			t.Errorf("fixture leaves %T.%s zero", v, rv.Type().Field(i).Name)
		}
	}
}

func assertRoundTrips[T any](t *testing.T, v T) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back T
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Errorf("%T does not round-trip through JSON:\n got %+v\nwant %+v", v, back, v)
	}
}
