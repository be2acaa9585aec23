package projections

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// ExamGrader grades an exam by replaying its events (the write-side
// command, which appends grade events).
type ExamGrader interface {
	GradeExam(ctx context.Context, examID, trigger string) error
}

// Grader reacts to closes and answer-key corrections by grading the exam in
// the background, so the bus is never held up by a large grading. It is
// safe to run in several instances: grading rounds are idempotent.
type Grader struct {
	catalog *Catalog
	grader  ExamGrader
	log     *slog.Logger

	mu      sync.Mutex
	pending map[string]string // exam → trigger
	wake    chan struct{}
}

// NewGrader returns a grader reactor.
func NewGrader(catalog *Catalog, g ExamGrader, log *slog.Logger) *Grader {
	if log == nil {
		log = slog.Default()
	}
	return &Grader{catalog: catalog, grader: g, log: log, pending: map[string]string{}, wake: make(chan struct{}, 1)}
}

func (g *Grader) Name() string { return "grader" }

// Categories: the streams this read model is built from.
func (g *Grader) Categories() []string { return []string{domain.CategoryExam} }

// Apply queues an exam when it closes or its key changes after closing.
func (g *Grader) Apply(rec eventstore.Record, data any) {
	examID := strings.TrimPrefix(rec.StreamID, domain.CategoryExam+"-")
	switch data.(type) {
	case *domain.ExamClosed:
		g.enqueue(examID, "close")
	case *domain.AnswerKeyCorrected:
		g.enqueue(examID, "answer_key")
	}
}

func (g *Grader) enqueue(examID, trigger string) {
	g.mu.Lock()
	if _, ok := g.pending[examID]; !ok {
		g.pending[examID] = trigger
	}
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Reconcile queues every exam the catalogue says still needs grading (at
// start-up, and periodically in case a grading failed).
func (g *Grader) Reconcile() {
	for _, id := range g.catalog.ExamsNeedingGrading() {
		g.enqueue(id, "close")
	}
}

// Run grades queued exams until ctx ends.
func (g *Grader) Run(ctx context.Context, reconcileEvery time.Duration) {
	g.Reconcile()
	tick := time.NewTicker(reconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			g.Reconcile()
		case <-g.wake:
		}
		for {
			examID, trigger, ok := g.next()
			if !ok {
				break
			}
			if e, ok := g.catalog.Exam(examID); ok && !e.NeedsGrading() {
				continue
			}
			start := time.Now()
			err := g.grader.GradeExam(ctx, examID, trigger)
			switch {
			case err == nil:
				g.log.Info("exam graded", "exam_id", examID, "trigger", trigger, "took", time.Since(start))
			case errors.Is(err, domain.ErrNotGraded), errors.Is(err, domain.ErrNotFound):
				// Not closed (a key corrected on an open exam): nothing owed.
			default:
				if ctx.Err() != nil {
					return
				}
				g.log.Error("grading failed; will retry", "exam_id", examID, "err", err)
			}
		}
	}
}

func (g *Grader) next() (string, string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, trigger := range g.pending {
		delete(g.pending, id)
		return id, trigger, true
	}
	return "", "", false
}

// ExamTicker opens and closes an exam when due (the write-side command).
type ExamTicker interface {
	TickExam(ctx context.Context, examID string) error
}

// Scheduler opens scheduled exams at opens_at and closes exams at
// closes_at. Several instances may run: the command decides from the exam's
// own stream, so only one of them appends.
type Scheduler struct {
	catalog *Catalog
	ticker  ExamTicker
	now     func() time.Time
	log     *slog.Logger
}

// NewScheduler returns a scheduler.
func NewScheduler(catalog *Catalog, t ExamTicker, now func() time.Time, log *slog.Logger) *Scheduler {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{catalog: catalog, ticker: t, now: now, log: log}
}

// Tick handles every exam due now.
func (s *Scheduler) Tick(ctx context.Context) {
	for _, id := range s.catalog.DueExams(s.now()) {
		if err := s.ticker.TickExam(ctx, id); err != nil && ctx.Err() == nil {
			s.log.Error("scheduler: tick failed", "exam_id", id, "err", err)
		}
	}
}

// Run ticks every interval until ctx ends.
func (s *Scheduler) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Tick(ctx)
		}
	}
}
