package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/embedded"
	"github.com/examhall/exam/projections"
	"github.com/google/uuid"
)

// BenchmarkRebuild1MEvents seeds an embedded store with about a million
// realistic events (EXAMLOAD_REBUILD_EVENTS overrides the count) and
// measures the start-up rebuild of the read models: projections.Runner
// CatchUp over the whole log, with the projections platform.Open uses
// (catalogue, student exam cache, results, grader), from a freshly reopened
// store. Being a benchmark, it only runs with -bench.
//
// The log is what exam days leave: levels, users (email reservation,
// credentials, user), and exams of 40 questions, each drafted, published,
// attempted by the 200 students of its level (attempt.started, 50 answers in
// autosave batches of 5, some changing an earlier answer, submitted),
// closed and graded (one grade.attempt_scored per attempt, exam.graded).
// Events are decided by the domain and appended through the store API by
// concurrent writers, several exams at a time, so attempts interleave in the
// log as they do on a real exam day.
func BenchmarkRebuild1MEvents(b *testing.B) {
	target := 1_000_000
	if n, err := strconv.Atoi(os.Getenv("EXAMLOAD_REBUILD_EVENTS")); err == nil && n > 0 && n <= 20_000_000 {
		target = n
	}
	// EXAMLOAD_REBUILD_DIR keeps the seeded store between runs (for
	// profiling the rebuild alone): a store there that holds events is
	// reused as it is.
	dir := os.Getenv("EXAMLOAD_REBUILD_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	ctx := context.Background()
	store, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	seeded, err := store.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var seedTook time.Duration
	if seeded == 0 {
		seedStart := time.Now()
		sd := &seeder{store: store, rng: rand.New(rand.NewPCG(11, 12))}
		if err := sd.seed(ctx, target); err != nil {
			_ = store.Close()
			b.Fatal(err)
		}
		seedTook = time.Since(seedStart)
		seeded = uint64(sd.events.Load())
		b.Logf("seeded %d events (%d exams, %d attempts) in %s (%.0f events/s)", seeded, sd.exams, sd.attempts.Load(),
			seedTook.Round(time.Millisecond), float64(seeded)/seedTook.Seconds())
	} else {
		b.Logf("reusing the %d events in %s", seeded, dir)
	}
	if err := store.Close(); err != nil {
		b.Fatal(err)
	}

	// A rebuild happens at start-up: reopen the store, then catch up.
	store, err = embedded.Open(dir, embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	head, err := store.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if head != seeded {
		b.Fatalf("store head %d, seeded %d", head, seeded)
	}

	log := slog.New(slog.DiscardHandler)
	var rebuilds int
	var took time.Duration
	b.ResetTimer()
	for b.Loop() {
		catalog := projections.NewCatalog()
		cache := projections.NewStudentExamCache(catalog, nil, projections.RenderStudentExam)
		results := projections.NewResults()
		grader := projections.NewGrader(&projections.InMemory{Catalog: catalog}, nil, log)
		runner := projections.NewRunner(log, catalog, cache, results, grader)
		start := time.Now()
		last, err := runner.CatchUp(ctx, store, 0, nil)
		took += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if last != head || runner.Applied() != seeded {
			b.Fatalf("caught up to %d, applied %d; want %d", last, runner.Applied(), seeded)
		}
		rebuilds++
	}
	b.StopTimer()
	per := took / time.Duration(rebuilds)
	b.ReportMetric(float64(seeded)*float64(rebuilds)/took.Seconds(), "events/s")
	b.ReportMetric(per.Seconds(), "s/rebuild")
	b.ReportMetric(float64(seeded), "events")
	if seedTook > 0 {
		b.ReportMetric(float64(seeded)/seedTook.Seconds(), "seed-events/s")
	}
	b.Logf("rebuild of %d events: %s (%d rebuilds)", seeded, per.Round(time.Millisecond), rebuilds)
}

// seeder decides events with the domain and appends them like the
// command side does (commands/repository.go writer).
type seeder struct {
	store    *embedded.Store
	rng      *rand.Rand // used by the seeding goroutine only
	events   atomic.Int64
	attempts atomic.Int64
	exams    int
	clock    time.Time
}

const (
	seedLevels           = 10
	seedStudentsPerLevel = 200
	seedQuestions        = 40
	seedAnswers          = 50 // per attempt: every question once, 10 changed
	seedBatch            = 5  // answers per autosave
	seedExamsAtOnce      = 4
	seedWritersPerExam   = 32
)

type seedUser struct{ actor domain.Actor }

func (sd *seeder) append(ctx context.Context, actor domain.Actor, stream string, expected int64, at time.Time, evs []domain.Event) (eventstore.AppendResult, error) {
	recs := make([]eventstore.Record, len(evs))
	corr := uuid.NewString()
	for i, ev := range evs {
		data, err := json.Marshal(ev.Data)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		recs[i] = eventstore.Record{EventID: uuid.NewString(), StreamID: stream, Type: ev.Type, OccurredAt: at.UTC(),
			ActorID: actor.ID, ActorRole: string(actor.Role), CorrelationID: corr, Tags: ev.Tags, Data: data}
	}
	res, err := sd.store.Append(ctx, stream, expected, recs)
	if err != nil {
		return res, fmt.Errorf("append %s: %w", stream, err)
	}
	sd.events.Add(int64(len(evs)))
	return res, nil
}

func (sd *seeder) seed(ctx context.Context, target int) error {
	sd.clock = time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)
	admin := domain.Actor{ID: uuid.NewString(), Role: domain.RoleAdmin}
	hash := "$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNhbHRzZWVkc2FsdA$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

	levels := make([]string, seedLevels)
	doctors := make([]domain.Actor, seedLevels)
	students := make([][]domain.Actor, seedLevels)
	var regs []func() error
	register := func(id string, in domain.RegisterInput) {
		regs = append(regs, func() error {
			res, cred, user, err := domain.RegisterUser(id, in, hash, sd.clock)
			if err != nil {
				return err
			}
			if _, err := sd.append(ctx, admin, domain.EmailStream(in.Email), eventstore.NoStream, sd.clock, []domain.Event{res}); err != nil {
				return err
			}
			if _, err := sd.append(ctx, admin, domain.CredentialsStream(id), eventstore.NoStream, sd.clock, []domain.Event{cred}); err != nil {
				return err
			}
			_, err = sd.append(ctx, admin, domain.UserStream(id), eventstore.NoStream, sd.clock, []domain.Event{user})
			return err
		})
	}
	for l := range seedLevels {
		levels[l] = uuid.NewString()
		ev, err := domain.CreateLevel(levels[l], fmt.Sprintf("Year %d", l+1), sd.clock)
		if err != nil {
			return err
		}
		if _, err := sd.append(ctx, admin, domain.LevelStream(levels[l]), eventstore.NoStream, sd.clock, []domain.Event{ev}); err != nil {
			return err
		}
		doctors[l] = domain.Actor{ID: uuid.NewString(), Role: domain.RoleDoctor}
		register(doctors[l].ID, domain.RegisterInput{Email: fmt.Sprintf("doctor%d@school.test", l), Password: "doctor-password", FullName: fmt.Sprintf("Dr. %d", l),
			Role: domain.RoleDoctor, Subject: "Biology"})
		for s := range seedStudentsPerLevel {
			a := domain.Actor{ID: uuid.NewString(), Role: domain.RoleStudent, LevelID: levels[l]}
			students[l] = append(students[l], a)
			register(a.ID, domain.RegisterInput{Email: fmt.Sprintf("s%d-%d@school.test", l, s), Password: "student-password",
				FullName: fmt.Sprintf("Student %d %d", l, s), Role: domain.RoleStudent, LevelID: levels[l], IDNumber: fmt.Sprintf("2025-%d-%04d", l, s)})
		}
	}
	if err := parallel(ctx, len(regs), 64, func(i int) error { return regs[i]() }); err != nil {
		return err
	}

	// Exams, several at a time, until the log holds the target (at least
	// one round).
	for round := 0; round == 0 || int(sd.events.Load()) < target; round++ {
		var wg sync.WaitGroup
		errs := make([]error, seedExamsAtOnce)
		for k := range seedExamsAtOnce {
			l := (sd.exams + k) % seedLevels
			day := sd.clock.Add(time.Duration(sd.exams+k) * 2 * time.Hour)
			qs := seedExamQuestions(sd.rng)
			rng := rand.New(rand.NewPCG(uint64(sd.exams+k), 99))
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[k] = sd.examDay(ctx, doctors[l], levels[l], students[l], qs, rng, day)
			}()
		}
		wg.Wait()
		sd.exams += seedExamsAtOnce
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func seedExamQuestions(rng *rand.Rand) []domain.QuestionInput {
	qs := make([]domain.QuestionInput, seedQuestions)
	choices := []domain.Choice{{Text: "Mitochondrion"}, {Text: "Golgi body"}, {Text: "Ribosome"}, {Text: "Lysosome"}}
	for i := range qs {
		q := domain.QuestionInput{ID: fmt.Sprintf("q%02d", i+1), Text: fmt.Sprintf("Question %d: which organelle is described by statement %d?", i+1, rng.IntN(1000))}
		switch i % 3 {
		case 0:
			q.Kind, q.Choices, q.Correct = domain.QuestionKind("single"), choices, []string{"b"}
		case 1:
			two := 2.0
			q.Kind, q.Choices, q.Correct, q.Points = domain.QuestionKind("multiple"), choices, []string{"a", "c"}, &two
		default:
			q.Kind, q.Correct = domain.QuestionKind("true_false"), []string{"true"}
		}
		qs[i] = q
	}
	return qs
}

// seedChoices picks a valid answer for question i (kinds as above).
func seedChoices(rng *rand.Rand, i int) []string {
	keys := []string{"a", "b", "c", "d"}
	switch i % 3 {
	case 0:
		return []string{keys[rng.IntN(4)]}
	case 1:
		var out []string
		for _, k := range keys {
			if rng.IntN(2) == 0 {
				out = append(out, k)
			}
		}
		if out == nil {
			out = []string{"a"}
		}
		return out
	default:
		return []string{[]string{"true", "false"}[rng.IntN(2)]}
	}
}

// examDay drafts, publishes, attempts, closes and grades one exam.
func (sd *seeder) examDay(ctx context.Context, doctor domain.Actor, levelID string, students []domain.Actor, qs []domain.QuestionInput, rng *rand.Rand, day time.Time) error {
	examID := uuid.NewString()
	e := &domain.Exam{}
	appendExam := func(evs []domain.Event, at time.Time) error {
		res, err := sd.append(ctx, doctor, domain.ExamStream(examID), e.Version, at, evs)
		if err != nil {
			return err
		}
		for i, ev := range evs {
			e.Apply(res.FromVersion+int64(i), ev.Data)
		}
		return nil
	}
	evs, err := domain.DraftExam(examID, doctor, domain.ExamDraftInput{Title: "Cells " + examID[:8], Description: "End of unit exam",
		LevelID: levelID, TimeLimitSeconds: 3600, Questions: qs}, uuid.NewString, day)
	if err != nil {
		return err
	}
	if err := appendExam(evs, day); err != nil {
		return err
	}
	open := day.Add(10 * time.Minute)
	if evs, err = e.Publish(doctor, open); err != nil {
		return err
	}
	if err := appendExam(evs, open); err != nil {
		return err
	}

	// Each student's plan: every question once in a shuffled order, then
	// ten changed answers; saved in batches of seedBatch.
	type plan struct {
		student domain.Actor
		start   time.Time
		answers []domain.AnswerInput
		attempt *domain.Attempt
	}
	plans := make([]*plan, len(students))
	for i, s := range students {
		p := &plan{student: s, start: open.Add(time.Duration(rng.IntN(600)) * time.Second), attempt: &domain.Attempt{}}
		for _, q := range rng.Perm(seedQuestions) {
			p.answers = append(p.answers, domain.AnswerInput{QuestionID: qs[q].ID, Choices: seedChoices(rng, q)})
		}
		for range seedAnswers - seedQuestions {
			q := rng.IntN(seedQuestions)
			p.answers = append(p.answers, domain.AnswerInput{QuestionID: qs[q].ID, Choices: seedChoices(rng, q)})
		}
		plans[i] = p
	}
	rounds := (seedAnswers + seedBatch - 1) / seedBatch
	err = parallel(ctx, seedWritersPerExam, seedWritersPerExam, func(w int) error {
		for r := 0; r <= rounds; r++ {
			for i := w; i < len(plans); i += seedWritersPerExam {
				p := plans[i]
				attemptID := commands.AttemptID(examID, p.student.ID)
				at := p.start.Add(time.Duration(r) * 4 * time.Minute)
				var evs []domain.Event
				var err error
				if r == rounds {
					evs, err = p.attempt.Submit(e, p.student, attemptID, at)
				} else {
					batch := p.answers[r*seedBatch : min((r+1)*seedBatch, len(p.answers))]
					evs, err = p.attempt.SaveAnswers(e, p.student, attemptID, batch, at)
				}
				if err != nil {
					return err
				}
				res, err := sd.append(ctx, p.student, domain.AttemptStream(attemptID), p.attempt.Version, at, evs)
				if err != nil {
					return err
				}
				for j, ev := range evs {
					p.attempt.Apply(res.FromVersion+int64(j), ev.Data)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	sd.attempts.Add(int64(len(plans)))

	closeAt := open.Add(90 * time.Minute)
	if evs, err = e.Close(doctor, closeAt, "manual"); err != nil {
		return err
	}
	if err := appendExam(evs, closeAt); err != nil {
		return err
	}
	attempts := make([]*domain.Attempt, len(plans))
	for i, p := range plans {
		attempts[i] = p.attempt
	}
	gradedAt := closeAt.Add(time.Second)
	planG := domain.PlanGrading(e, domain.GradeExam(e, attempts), nil, "close", gradedAt)
	grader := domain.SystemActor("grader")
	if _, err := sd.append(ctx, grader, domain.GradesStream(examID), eventstore.NoStream, gradedAt, planG.Scores); err != nil {
		return err
	}
	res, err := sd.append(ctx, grader, domain.ExamStream(examID), e.Version, gradedAt, []domain.Event{planG.Graded})
	if err != nil {
		return err
	}
	e.Apply(res.FromVersion, planG.Graded.Data)
	return nil
}

// TestSeederSmall checks the seeder on a small log: the events are valid
// for the projections (an exam is graded with a result per attempt).
func TestSeederSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a store")
	}
	ctx := context.Background()
	store, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sd := &seeder{store: store, rng: rand.New(rand.NewPCG(1, 2))}
	if err := sd.seed(ctx, 1); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	catalog := projections.NewCatalog()
	results := projections.NewResults()
	runner := projections.NewRunner(log, catalog, results)
	if _, err := runner.CatchUp(ctx, store, 0, nil); err != nil {
		t.Fatal(err)
	}
	if runner.Applied() != uint64(sd.events.Load()) {
		t.Fatalf("applied %d of %d events", runner.Applied(), sd.events.Load())
	}
	graded := 0
	exams, _ := catalog.ListExams(projections.ExamFilter{Viewer: domain.Actor{ID: "admin", Role: domain.RoleAdmin}, Limit: 1000})
	for _, e := range exams {
		if e.Status != domain.StatusGraded {
			t.Errorf("exam %s is %s", e.ID, e.Status)
			continue
		}
		rows := results.ExamResults(e.ID)
		if len(rows) != seedStudentsPerLevel {
			t.Errorf("exam %s has %d results", e.ID, len(rows))
		}
		graded++
	}
	if graded != seedExamsAtOnce {
		t.Errorf("%d graded exams, want %d", graded, seedExamsAtOnce)
	}
	t.Logf("%d events, %d attempts", sd.events.Load(), sd.attempts.Load())
}
