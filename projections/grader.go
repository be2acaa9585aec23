package projections

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
)

// ExamGrader grades an exam by replaying its events (the write-side
// command, which appends grade events).
type ExamGrader interface {
	GradeExam(ctx context.Context, examID, trigger string) error
	// NeedsGrading answers from the exam's own stream (the write side), not
	// from a read model that may not have seen the close yet.
	NeedsGrading(ctx context.Context, examID string) (bool, error)
}

// GradingBacklog lists the exams a read model says still owe a grading;
// the grader reconciles with it at start-up and periodically, so a missed
// or failed trigger is made good.
type GradingBacklog interface {
	ExamsNeedingGrading(ctx context.Context) ([]string, error)
}

// Grader reacts to closes and answer-key corrections by grading the exam in
// the background, so the bus is never held up by a large grading. It is
// safe to run in several instances: grading rounds are idempotent.
type Grader struct {
	backlog GradingBacklog
	grader  ExamGrader
	log     *slog.Logger

	mu      sync.Mutex
	pending map[string]string // exam → trigger
	wake    chan struct{}
}

// NewGrader returns a grader reactor.
func NewGrader(backlog GradingBacklog, g ExamGrader, log *slog.Logger) *Grader {
	if log == nil {
		log = slog.Default()
	}
	return &Grader{backlog: backlog, grader: g, log: log, pending: map[string]string{}, wake: make(chan struct{}, 1)}
}

func (g *Grader) Name() string { return "grader" }

// Categories: the streams this read model is built from.
func (g *Grader) Categories() []string { return []string{domain.CategoryExam} }

// Apply queues an exam when it closes or its key changes after closing. It
// only queues work, so it never fails and the bus is never held up by a
// large grading; queueing twice is queueing once, and grading rounds are
// idempotent, so a redelivery is harmless. An undecodable record is left to
// the reconciliation, which still finds the exam.
func (g *Grader) Apply(_ context.Context, batch []Delivered) error {
	for _, d := range batch {
		examID := domain.StreamEntity(d.Record.StreamID)
		switch d.Data.(type) {
		case *domain.ExamClosed:
			g.enqueue(examID, "close")
		case *domain.AnswerKeyCorrected:
			g.enqueue(examID, "answer_key")
		}
	}
	return nil
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

// Reconcile queues every exam the backlog says still needs grading (at
// start-up, and periodically in case a grading failed).
func (g *Grader) Reconcile(ctx context.Context) {
	ids, err := g.backlog.ExamsNeedingGrading(ctx)
	if err != nil {
		if ctx.Err() == nil {
			g.log.Warn("grader: backlog unavailable; will retry", "err", err)
		}
		return
	}
	for _, id := range ids {
		g.enqueue(id, "close")
	}
}

// Run grades queued exams until ctx ends.
func (g *Grader) Run(ctx context.Context, reconcileEvery time.Duration) {
	g.Reconcile(ctx)
	tick := time.NewTicker(reconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			g.Reconcile(ctx)
		case <-g.wake:
		}
		for {
			examID, trigger, ok := g.next()
			if !ok {
				break
			}
			if owed, err := g.grader.NeedsGrading(ctx, examID); err == nil && !owed {
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

// DueExams lists the exams whose opening or closing time has come.
type DueExams interface {
	DueExams(ctx context.Context, now time.Time) ([]string, error)
}

// ExamTicker opens and closes an exam when due (the write-side command).
type ExamTicker interface {
	TickExam(ctx context.Context, examID string) error
}

// Scheduler opens scheduled exams at opens_at and closes exams at
// closes_at. Several instances may run: the command decides from the exam's
// own stream, so only one of them appends.
type Scheduler struct {
	due    DueExams
	ticker ExamTicker
	now    func() time.Time
	log    *slog.Logger
}

// NewScheduler returns a scheduler.
func NewScheduler(due DueExams, t ExamTicker, now func() time.Time, log *slog.Logger) *Scheduler {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{due: due, ticker: t, now: now, log: log}
}

// Tick handles every exam due now.
func (s *Scheduler) Tick(ctx context.Context) {
	ids, err := s.due.DueExams(ctx, s.now())
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("scheduler: due exams unavailable; will retry", "err", err)
		}
		return
	}
	for _, id := range ids {
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
