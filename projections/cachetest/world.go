// Package cachetest is the conformance suite of the student exam cache:
// every implementation (the in-process projections.StudentExamCache, the
// Redis rediscache.Cache) runs the same cases through Run, over an exam
// world the suite controls.
package cachetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
)

// Render is the renderer a harness must give its cache: the student
// document the API serves, so the suite checks the JSON students really
// receive.
func Render(e *domain.Exam) ([]byte, error) { return projections.RenderStudentExam(e) }

// World is an event-sourced exam world: an event store of exam streams
// (LoadExam, always current), a read model of it (ExamHead, Exam, the
// read side's authority) and subscribers fed every record in stream order,
// as the Runner or a bus consumer would.
//
// A change is appended to the store, applied to the read model, delivered
// to every subscriber and only then acknowledged: Acked(id) is the version
// every reader starting now is entitled to see.
type World struct {
	change sync.Mutex // serialises changes, so subscribers see stream order

	mu      sync.RWMutex
	store   map[string]*domain.Exam
	read    map[string]*domain.Exam
	acked   map[string]int64
	subs    []func(eventstore.Record)
	lagging bool
	held    []eventstore.Record
	now     time.Time
}

// NewWorld returns an empty world.
func NewWorld() *World {
	return &World{store: map[string]*domain.Exam{}, read: map[string]*domain.Exam{}, acked: map[string]int64{},
		now: time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)}
}

// Subscribe registers fn to receive every later record, synchronously.
func (w *World) Subscribe(fn func(rec eventstore.Record)) {
	w.change.Lock()
	defer w.change.Unlock()
	w.subs = append(w.subs, fn)
}

// LoadExam implements projections.ExamLoader: the event store's state.
func (w *World) LoadExam(_ context.Context, id string) (*domain.Exam, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if e, ok := w.store[id]; ok {
		cp := *e
		return &cp, nil
	}
	return &domain.Exam{}, nil
}

// ExamHead is the read model's version of an exam.
func (w *World) ExamHead(_ context.Context, id string) (int64, bool, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if e, ok := w.read[id]; ok {
		return e.Version, true, nil
	}
	return 0, false, nil
}

// Exam is the read model's exam.
func (w *World) Exam(_ context.Context, id string) (*domain.Exam, bool, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if e, ok := w.read[id]; ok {
		cp := *e
		return &cp, true, nil
	}
	return nil, false, nil
}

// Acked is the newest version of the exam whose change has been delivered
// everywhere (0 if none).
func (w *World) Acked(id string) int64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.acked[id]
}

// StoreVersion is the event store's version of the exam.
func (w *World) StoreVersion(id string) int64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if e, ok := w.store[id]; ok {
		return e.Version
	}
	return 0
}

// Lag makes later changes reach the store only: the read model and the
// subscribers do not see them until CatchUp.
func (w *World) Lag() {
	w.change.Lock()
	defer w.change.Unlock()
	w.lagging = true
}

// CatchUp delivers the held changes and ends the lag.
func (w *World) CatchUp() {
	w.change.Lock()
	defer w.change.Unlock()
	w.lagging = false
	held := w.held
	w.held = nil
	for _, rec := range held {
		w.deliver(rec)
	}
}

// Questions of every exam of the world: two questions with keys.
func questions() []domain.Question {
	return []domain.Question{
		{ID: "q1", Text: "2+2?", Kind: domain.KindSingle, Choices: []domain.Choice{{Key: "a", Text: "3"}, {Key: "b", Text: "4"}}, Correct: []string{"b"}, Points: 1},
		{ID: "q2", Text: "Primes?", Kind: domain.KindMultiple, Choices: []domain.Choice{{Key: "a", Text: "2"}, {Key: "b", Text: "4"}, {Key: "c", Text: "5"}}, Correct: []string{"a", "c"}, Points: 2},
	}
}

// Draft creates the exam as a draft of the level.
func (w *World) Draft(id, levelID string) int64 {
	return w.append(id, domain.TypeExamDrafted, &domain.ExamDrafted{ExamID: id, Title: "Exam " + id, LevelID: levelID,
		OwnerID: "doctor-1", Questions: questions(), CreatedAt: w.now})
}

// Publish opens the exam.
func (w *World) Publish(id string) int64 {
	return w.append(id, domain.TypeExamPublished, &domain.ExamPublished{ExamID: id, Status: domain.StatusOpen, PublishedAt: w.now})
}

// Schedule publishes the exam as scheduled (it opens later).
func (w *World) Schedule(id string) int64 {
	return w.append(id, domain.TypeExamPublished, &domain.ExamPublished{ExamID: id, Status: domain.StatusScheduled, PublishedAt: w.now})
}

// Open records the scheduled exam's opening.
func (w *World) Open(id string) int64 {
	return w.append(id, domain.TypeExamOpened, &domain.ExamOpened{ExamID: id, OpenedAt: w.now})
}

// Edit changes the title (and may move the exam to another level).
func (w *World) Edit(id, title, levelID string) int64 {
	w.mu.RLock()
	e := w.store[id]
	qs := e.Questions
	w.mu.RUnlock()
	return w.append(id, domain.TypeExamUpdated, &domain.ExamUpdated{ExamID: id, Title: title, LevelID: levelID, Questions: qs})
}

// Close closes the exam.
func (w *World) Close(id string) int64 {
	return w.append(id, domain.TypeExamClosed, &domain.ExamClosed{ExamID: id, ClosedAt: w.now, Reason: "manual"})
}

// CorrectKey replaces question q1's key.
func (w *World) CorrectKey(id string, correct ...string) int64 {
	return w.append(id, domain.TypeAnswerKeyCorrected, &domain.AnswerKeyCorrected{ExamID: id, QuestionID: "q1", Correct: correct, Points: 1})
}

// Grade grades the exam.
func (w *World) Grade(id string) int64 {
	return w.append(id, domain.TypeExamGraded, &domain.ExamGraded{ExamID: id, Round: 1, Trigger: "close", GradedAt: w.now})
}

func (w *World) append(id, typ string, payload any) int64 {
	data, err := json.Marshal(payload)
	if err != nil {
		panic(fmt.Sprintf("cachetest: encode %s: %v", typ, err)) // a bug of the suite itself
	}
	w.change.Lock()
	defer w.change.Unlock()
	w.mu.Lock()
	e := w.store[id]
	if e == nil {
		e = &domain.Exam{}
	} else {
		cp := *e
		e = &cp
	}
	version := e.Version + 1
	e.Apply(version, payload)
	w.store[id] = e
	w.mu.Unlock()
	rec := eventstore.Record{EventID: fmt.Sprintf("%s-%d", id, version), StreamID: domain.ExamStream(id), Version: version,
		Type: typ, OccurredAt: w.now, ActorRole: "system", Tags: []string{domain.ExamTag(id)}, Data: data}
	if w.lagging {
		w.held = append(w.held, rec)
	} else {
		w.deliver(rec)
	}
	return version
}

// deliver applies rec to the read model, then to the subscribers, then
// acknowledges it. Called with w.change held.
func (w *World) deliver(rec eventstore.Record) {
	data, err := domain.DecodeEvent(rec.Type, rec.Data)
	if err != nil {
		panic(fmt.Sprintf("cachetest: decode %s: %v", rec.Type, err))
	}
	id := domain.StreamEntity(rec.StreamID)
	w.mu.Lock()
	e := w.read[id]
	if e == nil {
		e = &domain.Exam{}
	} else {
		cp := *e
		e = &cp
	}
	e.Apply(rec.Version, data)
	w.read[id] = e
	w.mu.Unlock()
	for _, fn := range w.subs {
		fn(rec)
	}
	w.mu.Lock()
	w.acked[id] = rec.Version
	w.mu.Unlock()
}
