package commands_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/embedded"
)

var admin = domain.Actor{ID: "admin-1", Role: domain.RoleAdmin}

func openStore(t *testing.T) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testTokens adapts auth's issuer to the port commands declare, as cmd/
// does.
type testTokens struct{ *auth.TokenIssuer }

func (t testTokens) ParseRefresh(token string) (commands.RefreshClaims, error) {
	c, err := t.TokenIssuer.ParseRefresh(token)
	return commands.RefreshClaims{UserID: c.UserID, FamilyID: c.FamilyID, Generation: c.Generation}, err
}

// newHandlers is one "replica": its own handlers and aggregate cache over
// the shared store.
func newHandlers(t *testing.T, store eventstore.Store) *commands.Handlers {
	t.Helper()
	tokens, err := auth.NewTokenIssuer(auth.TokenConfig{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := commands.New(commands.Deps{
		Store: store, Hasher: auth.NewPasswordHasher(auth.TestArgon2Params(), 0), Tokens: testTokens{tokens},
		Throttle: auth.NewMemoryLoginThrottle(auth.ThrottleConfig{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func countType(t *testing.T, store eventstore.Store, typ string) int {
	t.Helper()
	recs, err := store.Query(context.Background(), eventstore.Filter{Type: typ, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

func TestDepsValidateReportsEveryMissingDependency(t *testing.T) {
	_, err := commands.New(commands.Deps{})
	for _, want := range []string{"Store", "Hasher", "Tokens", "Throttle"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestKeyedCreationRetriedOnAnotherReplicaCreatesOnce(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	r1, r2 := newHandlers(t, store), newHandlers(t, store)
	m := commands.Meta{Actor: admin, IdempotencyKey: "create-level-7"}

	l1, err := r1.CreateLevel.Handle(ctx, m, "Year 1")
	if err != nil {
		t.Fatal(err)
	}
	l2, err := r2.CreateLevel.Handle(ctx, m, "Year 1")
	if err != nil {
		t.Fatal(err)
	}
	if l1.Level.ID != l2.Level.ID || !l1.Level.CreatedAt.Equal(l2.Level.CreatedAt) {
		t.Fatalf("retry answered %+v, first answer %+v", l2.Level, l1.Level)
	}
	if n := countType(t, store, domain.TypeLevelCreated); n != 1 {
		t.Fatalf("%d level.created events, want 1", n)
	}

	in := domain.RegisterInput{Email: "a@school.test", Password: "password-1", FullName: "A", Role: domain.RoleStudent, LevelID: l1.Level.ID}
	um := commands.Meta{Actor: admin, IdempotencyKey: "create-user-1"}
	u1, err := r1.RegisterUser.Handle(ctx, um, in)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := r2.RegisterUser.Handle(ctx, um, in)
	if err != nil {
		t.Fatalf("retried registration: %v", err)
	}
	if u1.User.ID != u2.User.ID {
		t.Fatalf("retry created user %s, first %s", u2.User.ID, u1.User.ID)
	}
	if n := countType(t, store, domain.TypeUserRegistered); n != 1 {
		t.Fatalf("%d user.registered events, want 1", n)
	}

	doctor := domain.Actor{ID: "doctor-1", Role: domain.RoleDoctor}
	em := commands.Meta{Actor: doctor, IdempotencyKey: "draft-1"}
	draft := domain.ExamDraftInput{Title: "Quiz", LevelID: l1.Level.ID}
	e1, err := r1.DraftExam.Handle(ctx, em, draft)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := r2.DraftExam.Handle(ctx, em, draft)
	if err != nil {
		t.Fatal(err)
	}
	if e1.Exam.ID != e2.Exam.ID || countType(t, store, domain.TypeExamDrafted) != 1 {
		t.Fatalf("retried draft created exam %s (first %s)", e2.Exam.ID, e1.Exam.ID)
	}
}

func TestRacingRegistrationsOfOneEmailExactlyOneWins(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	replicas := []*commands.Handlers{newHandlers(t, store), newHandlers(t, store)}
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = replicas[i%2].RegisterUser.Handle(ctx, commands.Meta{Actor: admin},
				domain.RegisterInput{Email: "Same@School.test", Password: "password-1", FullName: fmt.Sprint("racer ", i), Role: domain.RoleDoctor})
		}(i)
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, domain.ErrEmailTaken):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if won != 1 || countType(t, store, domain.TypeUserRegistered) != 1 {
		t.Fatalf("%d registrations won, %d users registered; want exactly 1", won, countType(t, store, domain.TypeUserRegistered))
	}
}

func TestConcurrentAnswersOfOneStudentAreAllRecorded(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	h := newHandlers(t, store)
	lvl, err := h.CreateLevel.Handle(ctx, commands.Meta{Actor: admin}, "L")
	if err != nil {
		t.Fatal(err)
	}
	doctor := domain.Actor{ID: "doctor-1", Role: domain.RoleDoctor}
	var qs []domain.QuestionInput
	for i := 0; i < 20; i++ {
		qs = append(qs, domain.QuestionInput{ID: fmt.Sprint("q", i), Text: "?", Kind: domain.KindSingle,
			Choices: []domain.Choice{{Text: "x"}, {Text: "y"}}, Correct: []string{"a"}})
	}
	ex, err := h.DraftExam.Handle(ctx, commands.Meta{Actor: doctor}, domain.ExamDraftInput{Title: "T", LevelID: lvl.Level.ID, Questions: qs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.PublishExam.Handle(ctx, commands.Meta{Actor: doctor}, ex.Exam.ID); err != nil {
		t.Fatal(err)
	}
	student := domain.Actor{ID: "student-1", Role: domain.RoleStudent, LevelID: lvl.Level.ID}
	// Two replicas racing on the same attempt stream: optimistic concurrency
	// makes the loser decide again, so every answer lands.
	replicas := []*commands.Handlers{h, newHandlers(t, store)}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := replicas[i%2].SaveAnswers.Handle(ctx, commands.Meta{Actor: student}, ex.Exam.ID,
				[]domain.AnswerInput{{QuestionID: fmt.Sprint("q", i), Choices: []string{"a"}}})
			if err != nil {
				t.Errorf("answer %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	att, err := newHandlers(t, store).Repo.LoadAttempt(ctx, ex.Exam.ID, student.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(att.CurrentAnswers()); got != 20 {
		t.Fatalf("%d answers recorded, want 20", got)
	}
	if n := countType(t, store, domain.TypeAttemptStarted); n != 1 {
		t.Fatalf("%d attempts started, want 1", n)
	}
}

func TestGradingTwiceAppendsOneRound(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	h := newHandlers(t, store)
	lvl, _ := h.CreateLevel.Handle(ctx, commands.Meta{Actor: admin}, "L")
	doctor := domain.Actor{ID: "doctor-1", Role: domain.RoleDoctor}
	ex, err := h.DraftExam.Handle(ctx, commands.Meta{Actor: doctor}, domain.ExamDraftInput{Title: "T", LevelID: lvl.Level.ID,
		Questions: []domain.QuestionInput{{ID: "q1", Text: "?", Kind: domain.KindTrueFalse, Correct: []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.PublishExam.Handle(ctx, commands.Meta{Actor: doctor}, ex.Exam.ID); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		student := domain.Actor{ID: fmt.Sprint("s", i), Role: domain.RoleStudent, LevelID: lvl.Level.ID}
		if _, err := h.SaveAnswers.Handle(ctx, commands.Meta{Actor: student}, ex.Exam.ID, []domain.AnswerInput{{QuestionID: "q1", Choices: []string{"true"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.CloseExam.Handle(ctx, commands.Meta{Actor: doctor}, ex.Exam.ID); err != nil {
		t.Fatal(err)
	}
	// Two graders (two replicas) grade the same close concurrently.
	grader := domain.SystemActor("grader")
	replicas := []*commands.Handlers{h, newHandlers(t, store)}
	var wg sync.WaitGroup
	for _, r := range replicas {
		wg.Add(1)
		go func(r *commands.Handlers) {
			defer wg.Done()
			if _, err := r.GradeExam.Handle(ctx, commands.Meta{Actor: grader}, ex.Exam.ID, "close", false); err != nil {
				t.Errorf("grade: %v", err)
			}
		}(r)
	}
	wg.Wait()
	scored := countType(t, store, domain.TypeAttemptScored)
	if scored != 3 {
		t.Fatalf("%d attempt_scored events after two concurrent gradings, want 3 (one round)", scored)
	}
	// The graded marker names the grades stream's version at which the
	// round is complete: what a results reader must have applied.
	grades, err := store.Load(ctx, domain.GradesStream(ex.Exam.ID), 1)
	if err != nil {
		t.Fatal(err)
	}
	graded, err := h.Repo.LoadExam(ctx, ex.Exam.ID)
	if err != nil {
		t.Fatal(err)
	}
	if graded.GradesVersion != int64(len(grades)) || graded.GradesVersion != 3 {
		t.Fatalf("exam's grades version %d, grades stream at %d; want both 3", graded.GradesVersion, len(grades))
	}
	// A dry run afterwards appends nothing and finds nothing changed.
	head, _ := store.Head(ctx)
	res, err := h.GradeExam.Handle(ctx, commands.Meta{Actor: doctor}, ex.Exam.ID, "regrade", true)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := store.Head(ctx); after != head || len(res.Changed) != 0 || res.Unchanged != 3 {
		t.Fatalf("dry run: head %d→%d, changed %v, unchanged %d", head, after, res.Changed, res.Unchanged)
	}
}

// A keyed answer save retried after the stream moved on (the replica died
// after appending, before it recorded the response) decides differently the
// second time — the first save also started the attempt — so its first
// event id names an event already stored but not the same append. The
// retry must answer as for a duplicate and append nothing.
func TestKeyedAnswerSaveRetriedAfterTheStreamMovedOnAppendsNothing(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	r1, r2 := newHandlers(t, store), newHandlers(t, store)
	level, err := r1.CreateLevel.Handle(ctx, commands.Meta{Actor: admin}, "Year 1")
	if err != nil {
		t.Fatal(err)
	}
	doctor := domain.Actor{ID: "doctor-1", Role: domain.RoleDoctor}
	exam, err := r1.DraftExam.Handle(ctx, commands.Meta{Actor: doctor}, domain.ExamDraftInput{Title: "Quiz", LevelID: level.Level.ID,
		Questions: []domain.QuestionInput{{ID: "q1", Text: "One?", Kind: domain.KindTrueFalse, Correct: []string{"true"}},
			{ID: "q2", Text: "Two?", Kind: domain.KindTrueFalse, Correct: []string{"false"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r1.PublishExam.Handle(ctx, commands.Meta{Actor: doctor}, exam.Exam.ID); err != nil {
		t.Fatal(err)
	}
	student := domain.Actor{ID: "student-1", Role: domain.RoleStudent, LevelID: level.Level.ID}
	first := commands.Meta{Actor: student, IdempotencyKey: "save-q1"}
	q1 := []domain.AnswerInput{{QuestionID: "q1", Choices: []string{"true"}}}
	if _, err := r1.SaveAnswers.Handle(ctx, first, exam.Exam.ID, q1); err != nil {
		t.Fatal(err)
	}
	if _, err := r1.SaveAnswers.Handle(ctx, commands.Meta{Actor: student, IdempotencyKey: "save-q2"}, exam.Exam.ID,
		[]domain.AnswerInput{{QuestionID: "q2", Choices: []string{"false"}}}); err != nil {
		t.Fatal(err)
	}
	saved := countType(t, store, domain.TypeAnswerSaved)
	retry, err := r2.SaveAnswers.Handle(ctx, first, exam.Exam.ID, q1)
	if err != nil {
		t.Fatalf("retried keyed save: %v", err)
	}
	if n := countType(t, store, domain.TypeAnswerSaved); n != saved {
		t.Fatalf("the retry appended: %d answer events, want %d", n, saved)
	}
	if got := retry.Attempt.CurrentAnswers()["q1"].Choices; len(got) != 1 || got[0] != "true" {
		t.Fatalf("retry answered with attempt answers %v", retry.Attempt.CurrentAnswers())
	}
}
