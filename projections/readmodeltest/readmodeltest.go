// Package readmodeltest is the conformance suite of the read models: every
// backend (the in-memory Catalog and Results behind a Runner, the
// PostgreSQL projections of projections/pgread) must fold the same events
// into the same answers, apply each stream version at most once, and stay
// consistent under concurrent appliers.
//
// A backend's test calls Run with a Harness that builds a fresh, empty
// model per subtest. Records are built from real domain events, encoded as
// the event store stores them.
package readmodeltest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
)

// Model is a read model under test: it applies records of the exam, level,
// user and grades categories (others it ignores) and answers the queries.
type Model interface {
	// Apply folds one record; applying a (stream, version) at most once is
	// the model's job. from is where the record came from on the bus.
	Apply(ctx context.Context, rec eventstore.Record, from projections.Delivery) error

	Exam(ctx context.Context, id string) (*domain.Exam, bool, error)
	ExamHead(ctx context.Context, id string) (version int64, found bool, err error)
	ListExams(ctx context.Context, f projections.ExamFilter) ([]*domain.Exam, bool, error)
	DueExams(ctx context.Context, now time.Time) ([]string, error)
	ExamsNeedingGrading(ctx context.Context) ([]string, error)
	Levels(ctx context.Context) ([]domain.Level, error)
	User(ctx context.Context, id string) (*domain.User, bool, error)
	ListUsers(ctx context.Context, f projections.UserFilter) ([]*domain.User, bool, error)
	ExamResults(ctx context.Context, examID string) ([]projections.ResultRow, error)
	StudentResult(ctx context.Context, examID, studentID string) (projections.ResultRow, bool, error)
	StudentResults(ctx context.Context, studentID string) ([]projections.ResultRow, error)
}

// Harness builds models for the suite.
type Harness struct {
	// New returns a fresh, empty model, released when t ends. Subtests run
	// in parallel, so models must be independent.
	New func(t *testing.T) Model
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"ExamLifecycleAndVisibility", testExamLifecycle},
		{"ExamPaging", testExamPaging},
		{"DueAndNeedingGrading", testDueAndGrading},
		{"Levels", testLevels},
		{"Users", testUsers},
		{"Results", testResults},
		{"UnknownEventsAndVersionGaps", testUnknownAndGaps},
		{"RedeliveryChangesNothing", testRedelivery},
		{"ConcurrentAppliers", testConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, h)
		})
	}
}

// t0 has nanoseconds on purpose: ordering and due times must be exact.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)

func at(d time.Duration) time.Time      { return t0.Add(d) }
func ptr(t time.Time) *time.Time        { return &t }
func sptr(s string) *string             { return &s }
func ctxT(t *testing.T) context.Context { return t.Context() }

// events builds a log of records as the store would: per-stream versions
// from 1, global positions, and a bus delivery per record.
type events struct {
	t        *testing.T
	recs     []eventstore.Record
	from     []projections.Delivery
	versions map[string]int64
}

func newEvents(t *testing.T) *events { return &events{t: t, versions: map[string]int64{}} }

// add appends one event to stream and returns its record.
func (l *events) add(stream, typ string, data any) eventstore.Record {
	l.t.Helper()
	l.versions[stream]++
	return l.addAt(stream, l.versions[stream], typ, data)
}

// addAt appends an event with an explicit version (to model gaps).
func (l *events) addAt(stream string, version int64, typ string, data any) eventstore.Record {
	l.t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		l.t.Fatalf("encode %s: %v", typ, err)
	}
	if version > l.versions[stream] {
		l.versions[stream] = version
	}
	rec := eventstore.Record{
		EventID: fmt.Sprintf("00000000-0000-4000-8000-%012d", len(l.recs)+1), StreamID: stream, Version: version,
		Position: uint64(len(l.recs) + 1), Type: typ, OccurredAt: t0, ActorID: "test", ActorRole: "system", Data: b,
	}
	l.recs = append(l.recs, rec)
	l.from = append(l.from, projections.Delivery{Topic: "exam." + eventstore.Category(stream), Partition: 0, Offset: int64(len(l.recs))})
	return rec
}

// applyAll applies every record in order.
func (l *events) applyAll(m Model) {
	l.t.Helper()
	for i, rec := range l.recs {
		if err := m.Apply(ctxT(l.t), rec, l.from[i]); err != nil {
			l.t.Fatalf("apply %s v%d: %v", rec.StreamID, rec.Version, err)
		}
	}
}

func apply(t *testing.T, m Model, recs ...eventstore.Record) {
	t.Helper()
	for _, rec := range recs {
		if err := m.Apply(ctxT(t), rec, projections.Delivery{Offset: -1}); err != nil {
			t.Fatalf("apply %s v%d: %v", rec.StreamID, rec.Version, err)
		}
	}
}

// Fixture helpers: one line per domain event.

func (l *events) level(id, name string, created time.Time) eventstore.Record {
	return l.add(domain.LevelStream(id), domain.TypeLevelCreated, &domain.LevelCreated{LevelID: id, Name: name, CreatedAt: created})
}

func questions() []domain.Question {
	return []domain.Question{{ID: "q1", Text: "2+2?", Kind: domain.KindSingle,
		Choices: []domain.Choice{{Key: "a", Text: "3"}, {Key: "b", Text: "4"}}, Correct: []string{"b"}, Points: 2}}
}

func (l *events) draft(id, owner, level string, created time.Time) eventstore.Record {
	return l.add(domain.ExamStream(id), domain.TypeExamDrafted, &domain.ExamDrafted{ExamID: id, Title: "Exam " + id,
		LevelID: level, OwnerID: owner, Questions: questions(), CreatedAt: created})
}

func (l *events) draftTimed(id, owner, level string, created time.Time, opens, closes *time.Time) eventstore.Record {
	return l.add(domain.ExamStream(id), domain.TypeExamDrafted, &domain.ExamDrafted{ExamID: id, Title: "Exam " + id,
		LevelID: level, OwnerID: owner, OpensAt: opens, ClosesAt: closes, Questions: questions(), CreatedAt: created})
}

func (l *events) publish(id string, status domain.ExamStatus, opens, closes *time.Time) eventstore.Record {
	return l.add(domain.ExamStream(id), domain.TypeExamPublished, &domain.ExamPublished{ExamID: id, Status: status,
		OpensAt: opens, ClosesAt: closes, PublishedAt: at(time.Minute)})
}

func (l *events) close(id string) eventstore.Record {
	return l.add(domain.ExamStream(id), domain.TypeExamClosed, &domain.ExamClosed{ExamID: id, ClosedAt: at(time.Hour), Reason: "manual"})
}

func (l *events) graded(id string, round int) eventstore.Record {
	return l.add(domain.ExamStream(id), domain.TypeExamGraded, &domain.ExamGraded{ExamID: id, Round: round, Trigger: "close", GradedAt: at(2 * time.Hour)})
}

func (l *events) keyCorrected(id string) eventstore.Record {
	return l.add(domain.ExamStream(id), domain.TypeAnswerKeyCorrected, &domain.AnswerKeyCorrected{ExamID: id, QuestionID: "q1",
		Correct: []string{"a"}, Points: 3, PreviousCorrect: []string{"b"}, PreviousPoints: 2})
}

func (l *events) register(id, email, name string, role domain.Role, level string) eventstore.Record {
	return l.add(domain.UserStream(id), domain.TypeUserRegistered, &domain.UserRegistered{UserID: id, Email: email,
		FullName: name, Role: role, LevelID: level, RegisteredAt: t0})
}

func (l *events) scored(examID, student string, round int, score float64, graded time.Time) eventstore.Record {
	return l.add(domain.GradesStream(examID), domain.TypeAttemptScored, &domain.AttemptScored{ExamID: examID,
		AttemptID: "att-" + examID + "-" + student, StudentID: student, Round: round, Score: score, MaxScore: 10, Answered: 3,
		Questions: []domain.QuestionScore{{QuestionID: "q1", Choices: []string{"b"}, PointsAwarded: score}}, GradedAt: graded})
}

func (l *events) override(examID, student string, score float64, when time.Time) eventstore.Record {
	return l.add(domain.GradesStream(examID), domain.TypeScoreOverridden, &domain.ScoreOverridden{ExamID: examID,
		StudentID: student, Score: score, MaxScore: 20, Source: "import", OverriddenAt: when})
}

// Query helpers that fail the test on error.

func mustExam(t *testing.T, m Model, id string) *domain.Exam {
	t.Helper()
	e, ok, err := m.Exam(ctxT(t), id)
	if err != nil || !ok {
		t.Fatalf("Exam(%s) = %v, %v", id, ok, err)
	}
	return e
}

func examIDs(t *testing.T, m Model, f projections.ExamFilter) ([]string, bool) {
	t.Helper()
	exams, more, err := m.ListExams(ctxT(t), f)
	if err != nil {
		t.Fatalf("ListExams(%+v): %v", f, err)
	}
	ids := []string{}
	for _, e := range exams {
		ids = append(ids, e.ID)
	}
	return ids, more
}

func userEmails(t *testing.T, m Model, f projections.UserFilter) ([]string, bool) {
	t.Helper()
	users, more, err := m.ListUsers(ctxT(t), f)
	if err != nil {
		t.Fatalf("ListUsers(%+v): %v", f, err)
	}
	out := []string{}
	for _, u := range users {
		out = append(out, u.Email)
	}
	return out, more
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// orEmpty treats nil and empty lists alike.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var (
	admin    = domain.Actor{ID: "admin1", Role: domain.RoleAdmin}
	system   = domain.SystemActor("grader")
	doctor1  = domain.Actor{ID: "doc1", Role: domain.RoleDoctor}
	doctor2  = domain.Actor{ID: "doc2", Role: domain.RoleDoctor}
	studentA = domain.Actor{ID: "stuA", Role: domain.RoleStudent, LevelID: "L1"}
	studentB = domain.Actor{ID: "stuB", Role: domain.RoleStudent, LevelID: "L2"}
	noLevel  = domain.Actor{ID: "stuC", Role: domain.RoleStudent}
	nobody   = domain.Actor{ID: "x"}
)

func testExamLifecycle(t *testing.T, h Harness) {
	m := h.New(t)
	l := newEvents(t)
	visible := func(stage string, want map[string][]string) {
		t.Helper()
		for name, a := range map[string]domain.Actor{"admin": admin, "system": system, "doctor1": doctor1, "doctor2": doctor2,
			"studentA": studentA, "studentB": studentB, "noLevel": noLevel, "nobody": nobody} {
			got, more := examIDs(t, m, projections.ExamFilter{Viewer: a})
			eq(t, stage+": visible to "+name, got, orEmpty(want[name]))
			if more {
				t.Errorf("%s: more = true without a limit", stage)
			}
		}
	}

	apply(t, m, l.draft("E1", "doc1", "L1", t0))
	e := mustExam(t, m, "E1")
	eq(t, "draft status", e.Status, domain.StatusDraft)
	eq(t, "draft version", e.Version, int64(1))
	eq(t, "draft owner/level", [2]string{e.OwnerID, e.LevelID}, [2]string{"doc1", "L1"})
	if !e.CreatedAt.Equal(t0) {
		t.Errorf("CreatedAt = %v, want %v (nanoseconds kept)", e.CreatedAt, t0)
	}
	eq(t, "questions", e.Questions, questions())
	visible("draft", map[string][]string{"admin": {"E1"}, "system": {"E1"}, "doctor1": {"E1"}})

	apply(t, m, l.add(domain.ExamStream("E1"), domain.TypeQuestionAdded, &domain.QuestionAdded{ExamID: "E1",
		Question: domain.Question{ID: "q2", Text: "sky?", Kind: domain.KindTrueFalse,
			Choices: []domain.Choice{{Key: "t", Text: "blue"}, {Key: "f", Text: "green"}}, Correct: []string{"t"}, Points: 1}}))
	eq(t, "questions after add", len(mustExam(t, m, "E1").Questions), 2)

	apply(t, m, l.publish("E1", domain.StatusOpen, nil, nil))
	e = mustExam(t, m, "E1")
	eq(t, "published status", e.Status, domain.StatusOpen)
	if e.PublishedAt == nil || !e.PublishedAt.Equal(at(time.Minute)) {
		t.Errorf("PublishedAt = %v", e.PublishedAt)
	}
	visible("published", map[string][]string{"admin": {"E1"}, "system": {"E1"}, "doctor1": {"E1"}, "studentA": {"E1"}})

	apply(t, m, l.close("E1"))
	eq(t, "closed status", mustExam(t, m, "E1").Status, domain.StatusClosed)
	apply(t, m, l.graded("E1", 1))
	e = mustExam(t, m, "E1")
	eq(t, "graded status", e.Status, domain.StatusGraded)
	eq(t, "grade round", e.GradeRound, 1)
	eq(t, "graded version", e.Version, int64(5))
	v, ok, err := m.ExamHead(ctxT(t), "E1")
	if err != nil || !ok || v != 5 {
		t.Errorf("ExamHead(E1) = %d, %v, %v; want 5", v, ok, err)
	}
	visible("graded", map[string][]string{"admin": {"E1"}, "system": {"E1"}, "doctor1": {"E1"}, "studentA": {"E1"}})

	// Filters combine with visibility.
	ids, _ := examIDs(t, m, projections.ExamFilter{Viewer: admin, Status: domain.StatusGraded})
	eq(t, "status filter", ids, []string{"E1"})
	ids, _ = examIDs(t, m, projections.ExamFilter{Viewer: admin, Status: domain.StatusOpen})
	eq(t, "status filter (no match)", ids, []string{})
	ids, _ = examIDs(t, m, projections.ExamFilter{Viewer: admin, LevelID: "L2"})
	eq(t, "level filter (no match)", ids, []string{})

	if _, ok, err := m.Exam(ctxT(t), "missing"); ok || err != nil {
		t.Errorf("Exam(missing) = %v, %v", ok, err)
	}
	if _, ok, err := m.ExamHead(ctxT(t), "missing"); ok || err != nil {
		t.Errorf("ExamHead(missing) = %v, %v", ok, err)
	}
}

func testExamPaging(t *testing.T, h Harness) {
	m := h.New(t)
	l := newEvents(t)
	// Creation order: E5 (t0), then E2 and E4 at the same instant (id
	// breaks the tie), E3 one nanosecond later, E1 and E6 later; E7 a draft
	// of doctor2. Insertion order differs from the listing order.
	apply(t, m,
		l.draft("E1", "doc1", "L1", at(time.Hour)),
		l.draft("E4", "doc1", "L1", at(time.Second)),
		l.draft("E2", "doc1", "L1", at(time.Second)),
		l.draft("E3", "doc1", "L2", at(time.Second+time.Nanosecond)),
		l.draft("E5", "doc1", "L1", t0),
		l.draft("E6", "doc1", "L1", at(2*time.Hour)),
		l.draft("E7", "doc2", "L1", at(3*time.Hour)),
	)
	for _, id := range []string{"E1", "E2", "E3", "E4", "E5"} {
		apply(t, m, l.publish(id, domain.StatusOpen, nil, nil))
	}
	all := []string{"E5", "E2", "E4", "E3", "E1", "E6", "E7"}
	got, more := examIDs(t, m, projections.ExamFilter{Viewer: admin})
	eq(t, "admin order", got, all)
	eq(t, "admin more", more, false)

	// Page through with every limit; the pages concatenate to the whole.
	for limit := 1; limit <= len(all)+1; limit++ {
		var pages []string
		f := projections.ExamFilter{Viewer: admin, Limit: limit}
		for range len(all) + 2 {
			exams, more, err := m.ListExams(ctxT(t), f)
			if err != nil {
				t.Fatal(err)
			}
			if len(exams) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(exams))
			}
			for _, e := range exams {
				pages = append(pages, e.ID)
			}
			wantMore := len(pages) < len(all)
			if more != wantMore {
				t.Errorf("limit %d after %v: more = %v, want %v", limit, pages, more, wantMore)
			}
			if !more {
				break
			}
			last := exams[len(exams)-1]
			f.AfterCreated, f.AfterID = last.CreatedAt, last.ID
		}
		eq(t, fmt.Sprintf("pages of %d", limit), pages, all)
	}

	// Students page over what they may see only: published exams of L1.
	got, more = examIDs(t, m, projections.ExamFilter{Viewer: studentA, Limit: 2})
	eq(t, "student page 1", got, []string{"E5", "E2"})
	eq(t, "student more 1", more, true)
	e2 := mustExam(t, m, "E2")
	got, more = examIDs(t, m, projections.ExamFilter{Viewer: studentA, Limit: 2, AfterCreated: e2.CreatedAt, AfterID: e2.ID})
	eq(t, "student page 2", got, []string{"E4", "E1"})
	eq(t, "student more 2", more, false)
	got, _ = examIDs(t, m, projections.ExamFilter{Viewer: doctor2})
	eq(t, "doctor2 sees own", got, []string{"E7"})
	got, _ = examIDs(t, m, projections.ExamFilter{Viewer: doctor1, LevelID: "L1", Status: domain.StatusDraft})
	eq(t, "doctor1 L1 drafts", got, []string{"E6"})
}

func testDueAndGrading(t *testing.T, h Harness) {
	m := h.New(t)
	l := newEvents(t)
	opens, closes := at(time.Hour), at(2*time.Hour)
	apply(t, m,
		// S: scheduled, opens at +1h, closes at +2h.
		l.draftTimed("S", "doc1", "L1", t0, &opens, &closes),
		l.publish("S", domain.StatusScheduled, &opens, &closes),
		// O: open, closes at +2h.
		l.draftTimed("O", "doc1", "L1", t0, nil, &closes),
		l.publish("O", domain.StatusOpen, nil, &closes),
		// N: open without a closing time: never due.
		l.draft("N", "doc1", "L1", t0),
		l.publish("N", domain.StatusOpen, nil, nil),
		// D: a draft with times: not due (not published).
		l.draftTimed("D", "doc1", "L1", t0, &opens, &closes),
	)
	due := func(now time.Time, want ...string) {
		t.Helper()
		got, err := m.DueExams(ctxT(t), now)
		if err != nil {
			t.Fatalf("DueExams: %v", err)
		}
		eq(t, fmt.Sprintf("DueExams(+%v)", now.Sub(t0)), orEmpty(got), orEmpty(want))
	}
	due(t0)
	due(opens.Add(-time.Nanosecond)) // exact to the nanosecond
	due(opens, "S")
	due(closes.Add(-time.Nanosecond), "S")
	due(closes, "O", "S")
	apply(t, m, l.add(domain.ExamStream("S"), domain.TypeExamOpened, &domain.ExamOpened{ExamID: "S", OpenedAt: opens}))
	due(opens)
	due(closes, "O", "S")
	apply(t, m, l.close("S"))
	due(closes, "O")

	grading := func(stage string, want ...string) {
		t.Helper()
		got, err := m.ExamsNeedingGrading(ctxT(t))
		if err != nil {
			t.Fatalf("ExamsNeedingGrading: %v", err)
		}
		eq(t, "needing grading "+stage, orEmpty(got), orEmpty(want))
	}
	grading("after S closed", "S")
	apply(t, m, l.close("O"))
	grading("after O closed", "O", "S")
	apply(t, m, l.graded("S", 1))
	grading("after S graded", "O")
	apply(t, m, l.keyCorrected("S"))
	grading("after S key corrected", "O", "S")
	apply(t, m, l.graded("S", 2), l.graded("O", 1))
	grading("after both graded")
	eq(t, "regrade round", mustExam(t, m, "S").GradeRound, 2)
	eq(t, "corrected points", mustExam(t, m, "S").Questions[0].Points, 3.0)
}

func testLevels(t *testing.T, h Harness) {
	m := h.New(t)
	l := newEvents(t)
	ls, err := m.Levels(ctxT(t))
	if err != nil || len(ls) != 0 {
		t.Fatalf("Levels of an empty model = %v, %v", ls, err)
	}
	apply(t, m, l.level("L2", "Year 2", at(time.Second)), l.level("L1", "Year 1", t0), l.level("LA", "Alpha", t0),
		l.level("LB", "Year 1", t0))
	ls, err = m.Levels(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, lv := range ls {
		got = append(got, lv.ID+"="+lv.Name)
	}
	eq(t, "levels by name then id", got, []string{"LA=Alpha", "L1=Year 1", "LB=Year 1", "L2=Year 2"})
	if !ls[3].CreatedAt.Equal(at(time.Second)) {
		t.Errorf("level CreatedAt = %v", ls[3].CreatedAt)
	}
}

func testUsers(t *testing.T, h Harness) {
	m := h.New(t)
	l := newEvents(t)
	apply(t, m,
		l.register("u1", "alice@example.com", "Alice Smith", domain.RoleStudent, "L1"),
		l.register("u2", "bob@example.com", "Bob Jones", domain.RoleStudent, "L2"),
		l.register("u3", "carol@example.com", "Carol ALIyev", domain.RoleDoctor, ""),
		l.register("u4", "dan@school.org", "Dan 100%", domain.RoleAdmin, ""),
		l.register("u5", "erin@example.com", "Erin Stone", domain.RoleStudent, "L1"),
	)
	u, ok, err := m.User(ctxT(t), "u1")
	if err != nil || !ok {
		t.Fatalf("User(u1) = %v, %v", ok, err)
	}
	eq(t, "registered user", [4]string{u.ID, u.Email, u.FullName, string(u.Role)}, [4]string{"u1", "alice@example.com", "Alice Smith", "student"})
	eq(t, "active", u.Active, true)
	if !u.CreatedAt.Equal(t0) {
		t.Errorf("CreatedAt = %v", u.CreatedAt)
	}

	apply(t, m,
		l.add(domain.UserStream("u1"), domain.TypeUserUpdated, &domain.UserUpdated{UserID: "u1", FullName: sptr("Alicia Smith"), LevelID: sptr("L2")}),
		l.add(domain.UserStream("u2"), domain.TypeUserDeactivated, &domain.UserDeactivated{UserID: "u2"}),
	)
	u, _, _ = m.User(ctxT(t), "u1")
	eq(t, "updated name/level", [2]string{u.FullName, u.LevelID}, [2]string{"Alicia Smith", "L2"})
	eq(t, "updated version", u.Version, int64(2))
	u, _, _ = m.User(ctxT(t), "u2")
	eq(t, "deactivated", u.Active, false)
	apply(t, m, l.add(domain.UserStream("u2"), domain.TypeUserReactivated, &domain.UserReactivated{UserID: "u2"}))
	u, _, _ = m.User(ctxT(t), "u2")
	eq(t, "reactivated", u.Active, true)
	if _, ok, err := m.User(ctxT(t), "missing"); ok || err != nil {
		t.Errorf("User(missing) = %v, %v", ok, err)
	}

	list := func(f projections.UserFilter, want []string, wantMore bool) {
		t.Helper()
		got, more := userEmails(t, m, f)
		eq(t, fmt.Sprintf("ListUsers(%+v)", f), got, want)
		eq(t, fmt.Sprintf("ListUsers(%+v) more", f), more, wantMore)
	}
	all := []string{"alice@example.com", "bob@example.com", "carol@example.com", "dan@school.org", "erin@example.com"}
	list(projections.UserFilter{}, all, false)
	list(projections.UserFilter{Role: domain.RoleStudent}, []string{"alice@example.com", "bob@example.com", "erin@example.com"}, false)
	list(projections.UserFilter{LevelID: "L2"}, []string{"alice@example.com", "bob@example.com"}, false) // u1 moved to L2
	list(projections.UserFilter{Role: domain.RoleStudent, LevelID: "L1"}, []string{"erin@example.com"}, false)
	list(projections.UserFilter{Search: "  ALI "}, []string{"alice@example.com", "carol@example.com"}, false) // name, any case
	list(projections.UserFilter{Search: "school"}, []string{"dan@school.org"}, false)                         // email
	list(projections.UserFilter{Search: "alicia"}, []string{"alice@example.com"}, false)                      // the updated name
	list(projections.UserFilter{Search: "100%"}, []string{"dan@school.org"}, false)                           // literal %
	list(projections.UserFilter{Search: "%"}, []string{"dan@school.org"}, false)
	list(projections.UserFilter{Search: "_"}, []string{}, false)
	list(projections.UserFilter{Search: "nobody-matches"}, []string{}, false)
	list(projections.UserFilter{Limit: 2}, all[:2], true)
	list(projections.UserFilter{Limit: 2, AfterID: all[1]}, all[2:4], true)
	list(projections.UserFilter{Limit: 2, AfterID: all[3]}, all[4:], false)
	list(projections.UserFilter{Limit: 1, Role: domain.RoleStudent, AfterID: "alice@example.com"}, []string{"bob@example.com"}, true)
}

func testResults(t *testing.T, h Harness) {
	m := h.New(t)
	l := newEvents(t)
	apply(t, m,
		l.scored("E1", "s2", 1, 4, at(time.Hour)),
		l.scored("E1", "s1", 1, 5, at(time.Hour)),
		l.scored("E1", "s10", 1, 6, at(time.Hour)),
	)
	rows, err := m.ExamResults(ctxT(t), "E1")
	if err != nil {
		t.Fatal(err)
	}
	var students []string
	for _, r := range rows {
		students = append(students, r.StudentID)
	}
	eq(t, "by student id", students, []string{"s1", "s10", "s2"})
	r := rows[0]
	eq(t, "scored row", [3]any{r.ExamID, r.AttemptID, r.Score}, [3]any{"E1", "att-E1-s1", 5.0})
	eq(t, "scored fields", [3]any{r.MaxScore, r.Answered, r.Round}, [3]any{10.0, 3, 1})
	eq(t, "scored questions", r.Questions, []domain.QuestionScore{{QuestionID: "q1", Choices: []string{"b"}, PointsAwarded: 5}})
	if !r.GradedAt.Equal(at(time.Hour)) || r.Overridden {
		t.Errorf("GradedAt/Overridden = %v/%v", r.GradedAt, r.Overridden)
	}

	// Round 2 replaces s1's row.
	apply(t, m, l.scored("E1", "s1", 2, 7.5, at(2*time.Hour)))
	r, ok, err := m.StudentResult(ctxT(t), "E1", "s1")
	if err != nil || !ok {
		t.Fatalf("StudentResult = %v, %v", ok, err)
	}
	eq(t, "rescored", [2]any{r.Score, r.Round}, [2]any{7.5, 2})
	if !r.GradedAt.Equal(at(2 * time.Hour)) {
		t.Errorf("rescored GradedAt = %v", r.GradedAt)
	}

	// An override keeps the attempt's fields and sets score, max, time.
	apply(t, m, l.override("E1", "s2", 18, at(3*time.Hour)))
	r, _, _ = m.StudentResult(ctxT(t), "E1", "s2")
	eq(t, "override kept", [4]any{r.AttemptID, r.Answered, r.Round, len(r.Questions)}, [4]any{"att-E1-s2", 3, 1, 1})
	eq(t, "override set", [3]any{r.Score, r.MaxScore, r.Overridden}, [3]any{18.0, 20.0, true})
	if !r.GradedAt.Equal(at(3 * time.Hour)) {
		t.Errorf("override GradedAt = %v", r.GradedAt)
	}
	// An override with no computed score makes a row of its own.
	apply(t, m, l.override("E1", "s9", 11, at(3*time.Hour)))
	r, ok, _ = m.StudentResult(ctxT(t), "E1", "s9")
	eq(t, "override-only row", [5]any{ok, r.ExamID, r.AttemptID, r.Score, r.Overridden}, [5]any{true, "E1", "", 11.0, true})
	// A later computed score replaces the override.
	apply(t, m, l.scored("E1", "s2", 2, 4.5, at(4*time.Hour)))
	r, _, _ = m.StudentResult(ctxT(t), "E1", "s2")
	eq(t, "rescored after override", [3]any{r.Score, r.MaxScore, r.Overridden}, [3]any{4.5, 10.0, false})

	if _, ok, err := m.StudentResult(ctxT(t), "E1", "nobody"); ok || err != nil {
		t.Errorf("StudentResult(nobody) = %v, %v", ok, err)
	}
	if rows, err := m.ExamResults(ctxT(t), "E-none"); err != nil || len(rows) != 0 {
		t.Errorf("ExamResults(E-none) = %v, %v", rows, err)
	}

	// Per student: newest graded first, across exams.
	apply(t, m,
		l.scored("E2", "s1", 1, 1, at(30*time.Minute)),
		l.scored("E3", "s1", 1, 2, at(5*time.Hour)),
		l.scored("E4", "s1", 1, 3, at(2*time.Hour+time.Nanosecond)),
	)
	rows, err = m.StudentResults(ctxT(t), "s1")
	if err != nil {
		t.Fatal(err)
	}
	var exams []string
	for _, r := range rows {
		exams = append(exams, r.ExamID)
	}
	eq(t, "student results newest first", exams, []string{"E3", "E4", "E1", "E2"})
	if rows, err := m.StudentResults(ctxT(t), "nobody"); err != nil || len(rows) != 0 {
		t.Errorf("StudentResults(nobody) = %v, %v", rows, err)
	}
}

func testUnknownAndGaps(t *testing.T, h Harness) {
	m := h.New(t)
	l := newEvents(t)
	apply(t, m,
		l.draft("E1", "doc1", "L1", t0),
		l.add(domain.ExamStream("E1"), "exam.something_new.v9", map[string]any{"x": 1}),                 // v2: unknown
		l.add(domain.ExamStream("E1"), domain.TypeExamPublished, json.RawMessage(`{"status": [1, 2]}`)), // v3: undecodable
	)
	e := mustExam(t, m, "E1")
	eq(t, "unknown events change nothing", [2]any{e.Status, e.Version}, [2]any{domain.StatusDraft, int64(1)})
	apply(t, m, l.publish("E1", domain.StatusOpen, nil, nil)) // v4
	e = mustExam(t, m, "E1")
	eq(t, "next known event applies", [2]any{e.Status, e.Version}, [2]any{domain.StatusOpen, int64(4)})
	// An unknown event is recorded as applied: delivered again after v4
	// (older) it is still nothing; a real event re-sent at v2 is ignored.
	apply(t, m, l.recs[1], l.addAt(domain.ExamStream("E1"), 2, domain.TypeExamClosed, &domain.ExamClosed{ExamID: "E1", ClosedAt: t0}))
	eq(t, "older versions ignored", mustExam(t, m, "E1").Status, domain.StatusOpen)

	// A stream whose versions arrive with gaps applies in arrival order.
	apply(t, m,
		l.addAt(domain.UserStream("u1"), 1, domain.TypeUserRegistered, &domain.UserRegistered{UserID: "u1", Email: "u1@example.com", FullName: "U One", Role: domain.RoleDoctor, RegisteredAt: t0}),
		l.addAt(domain.UserStream("u1"), 3, domain.TypeUserUpdated, &domain.UserUpdated{UserID: "u1", FullName: sptr("U Three")}),
		l.addAt(domain.UserStream("u1"), 2, domain.TypeUserUpdated, &domain.UserUpdated{UserID: "u1", FullName: sptr("U Two")}),
	)
	u, _, _ := m.User(ctxT(t), "u1")
	eq(t, "gap: newest applied, older skipped", [2]any{u.FullName, u.Version}, [2]any{"U Three", int64(3)})

	// Streams of categories the read models do not read are ignored.
	apply(t, m, l.add(domain.AttemptStream("a1"), domain.TypeAttemptStarted, &domain.AttemptStarted{AttemptID: "a1", ExamID: "E1", StudentID: "s1", StartedAt: t0}))
	if rows, _ := m.ExamResults(ctxT(t), "E1"); len(rows) != 0 {
		t.Errorf("attempt event made results: %v", rows)
	}
}

// mixedLog is a log touching every read model, for redelivery and
// concurrency.
func mixedLog(t *testing.T) *events {
	l := newEvents(t)
	l.level("L1", "Year 1", t0)
	l.level("L2", "Year 2", t0)
	l.register("u1", "a@example.com", "A", domain.RoleStudent, "L1")
	l.register("u2", "b@example.com", "B", domain.RoleDoctor, "")
	l.add(domain.UserStream("u1"), domain.TypeUserUpdated, &domain.UserUpdated{UserID: "u1", FullName: sptr("A2")})
	l.add(domain.UserStream("u1"), domain.TypeUserDeactivated, &domain.UserDeactivated{UserID: "u1"})
	closes := at(time.Hour)
	for _, id := range []string{"E1", "E2", "E3"} {
		l.draftTimed(id, "u2", "L1", t0, nil, &closes)
		l.add(domain.ExamStream(id), domain.TypeQuestionAdded, &domain.QuestionAdded{ExamID: id, Question: domain.Question{
			ID: "q2", Text: "?", Kind: domain.KindSingle, Choices: []domain.Choice{{Key: "a"}, {Key: "b"}}, Correct: []string{"a"}, Points: 1}})
		l.publish(id, domain.StatusOpen, nil, &closes)
	}
	l.close("E1")
	l.graded("E1", 1)
	for i, s := range []string{"s1", "s2", "s3", "s4"} {
		l.scored("E1", s, 1, float64(i), at(time.Duration(i)*time.Minute))
	}
	l.override("E1", "s2", 9, at(time.Hour))
	l.keyCorrected("E1")
	l.scored("E1", "s1", 2, 8, at(2*time.Hour))
	l.graded("E1", 2)
	l.close("E2")
	return l
}

// snapshot is every answer of the model, encoded, for comparisons.
func snapshot(t *testing.T, m Model) string {
	t.Helper()
	ctx := ctxT(t)
	var out []any
	add := func(v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		out = append(out, v)
	}
	for _, id := range []string{"E1", "E2", "E3"} {
		e, ok, err := m.Exam(ctx, id)
		add([]any{e, ok}, err)
		v, ok, err := m.ExamHead(ctx, id)
		add([]any{v, ok}, err)
		rows, err := m.ExamResults(ctx, id)
		add(rows, err)
	}
	exams, more, err := m.ListExams(ctx, projections.ExamFilter{Viewer: admin})
	add([]any{exams, more}, err)
	due, err := m.DueExams(ctx, at(2*time.Hour))
	add(orEmpty(due), err)
	ng, err := m.ExamsNeedingGrading(ctx)
	add(orEmpty(ng), err)
	ls, err := m.Levels(ctx)
	add(ls, err)
	users, more, err := m.ListUsers(ctx, projections.UserFilter{})
	add([]any{users, more}, err)
	for _, s := range []string{"s1", "s2", "s3", "s4"} {
		rows, err := m.StudentResults(ctx, s)
		add(rows, err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testRedelivery(t *testing.T, h Harness) {
	m := h.New(t)
	l := mixedLog(t)
	l.applyAll(m)
	before := snapshot(t, m)
	// Sanity: the log did something.
	if r, ok, _ := m.StudentResult(ctxT(t), "E1", "s2"); !ok || r.Score != 9 || !r.Overridden {
		t.Fatalf("s2 after the log = %+v, %v", r, ok)
	}
	// The whole log again: nothing changes.
	l.applyAll(m)
	eq(t, "after redelivering everything", snapshot(t, m), before)
	// Every record again, newest first: each is older than what is applied.
	for i := len(l.recs) - 1; i >= 0; i-- {
		if err := m.Apply(ctxT(t), l.recs[i], l.from[i]); err != nil {
			t.Fatal(err)
		}
	}
	eq(t, "after redelivering in reverse", snapshot(t, m), before)
	// An older version after a newer one: s2's computed score (older than
	// the override) does not undo the override.
	for _, rec := range l.recs {
		if rec.Type == domain.TypeAttemptScored && rec.Version == 2 {
			apply(t, m, rec)
		}
	}
	if r, _, _ := m.StudentResult(ctxT(t), "E1", "s2"); r.Score != 9 || !r.Overridden {
		t.Errorf("older score re-sent undid the override: %+v", r)
	}
}

func testConcurrent(t *testing.T, h Harness) {
	once := h.New(t)
	l := mixedLog(t)
	l.applyAll(once)
	want := snapshot(t, once)

	m := h.New(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for i, rec := range l.recs {
				if err := m.Apply(ctxT(t), rec, l.from[i]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent apply: %v", err)
	}
	eq(t, "concurrent appliers end as one", snapshot(t, m), want)
}
