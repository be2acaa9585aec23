package projections

import (
	"context"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// ExamLoader folds an exam from the event store (read-through on a miss).
type ExamLoader interface {
	LoadExam(ctx context.Context, examID string) (*domain.Exam, error)
}

// StudentDoc is a rendered student view of an exam.
type StudentDoc struct {
	Body    []byte
	Version int64
	LevelID string
	Status  domain.ExamStatus
}

// StudentExamCache holds the exam documents students fetch, rendered once
// per exam version. Keys are stripped before rendering unless the exam is
// graded, so a cached document can never leak an answer key.
type StudentExamCache struct {
	catalog *Catalog
	loader  ExamLoader
	render  func(*domain.Exam) ([]byte, error)

	mu   sync.RWMutex
	docs map[string]StudentDoc
	// latest is the newest version of each exam Apply has seen. A document
	// rendered from an older state is served but never cached: a Get that
	// read the catalogue just before an event and stored its document just
	// after the event's invalidation would otherwise serve that stale
	// document until the exam changed again (e.g. "closed" and no keys
	// forever after grading).
	latest map[string]int64
}

// NewStudentExamCache returns a cache; render produces the JSON document.
func NewStudentExamCache(catalog *Catalog, loader ExamLoader, render func(*domain.Exam) ([]byte, error)) *StudentExamCache {
	return &StudentExamCache{catalog: catalog, loader: loader, render: render, docs: map[string]StudentDoc{}, latest: map[string]int64{}}
}

func (s *StudentExamCache) Name() string { return "student_exam_cache" }

// Categories: the streams this read model is built from.
func (s *StudentExamCache) Categories() []string { return []string{domain.CategoryExam} }

// Apply invalidates the exam's document on any change of the exam. It is
// idempotent by construction: latest only rises, and dropping a document
// twice is dropping it once.
func (s *StudentExamCache) Apply(_ context.Context, batch []Delivered) error {
	for _, d := range batch {
		// An event this build does not know left the catalogue's exam
		// unchanged, so its document is still current.
		if d.Data != nil {
			s.apply(d.Record)
		}
	}
	return nil
}

func (s *StudentExamCache) apply(rec eventstore.Record) {
	if eventstore.Category(rec.StreamID) != domain.CategoryExam {
		return
	}
	id := domain.StreamEntity(rec.StreamID)
	s.mu.Lock()
	if rec.Version > s.latest[id] {
		s.latest[id] = rec.Version
	}
	if d, ok := s.docs[id]; ok && d.Version < rec.Version {
		delete(s.docs, id)
	}
	s.mu.Unlock()
}

// StudentView is the exam as students may see it: without keys until
// graded, and sealed while scheduled: a scheduled paper is a paper that has
// not been handed out, so its questions keep only what its summary needs
// (id, kind and points, for question_count and max_score) — no text, no
// choices, no image. Every cache renders from this view, so none can hold
// a sealed paper's content; the moment it opens (see OpenedStudentView)
// is the API's to serve.
func StudentView(e *domain.Exam) *domain.Exam {
	v := *e
	switch e.Status {
	case domain.StatusGraded:
	case domain.StatusScheduled:
		qs := make([]domain.Question, len(e.Questions))
		for i, q := range e.Questions {
			qs[i] = domain.Question{ID: q.ID, Kind: q.Kind, Points: q.Points, NegativePoints: q.NegativePoints}
		}
		v.Questions = qs
	default:
		v.Questions = withoutKeys(e.Questions)
	}
	return &v
}

// OpenedStudentView is the student view of a scheduled exam whose opens_at
// has passed but whose opening the scheduler has not recorded yet: it
// already accepts answers, so its questions are readable (without keys).
// For any other exam it is StudentView.
func OpenedStudentView(e *domain.Exam, now time.Time) *domain.Exam {
	if !Sealed(e, now) && e.Status == domain.StatusScheduled {
		v := *e
		v.Questions = withoutKeys(e.Questions)
		return &v
	}
	return StudentView(e)
}

// Sealed reports whether e is sealed for students at now: scheduled and
// not yet at its opens_at (the moment it starts accepting answers).
func Sealed(e *domain.Exam, now time.Time) bool {
	return e.Status == domain.StatusScheduled && !e.AcceptingAnswers(now)
}

func withoutKeys(in []domain.Question) []domain.Question {
	qs := make([]domain.Question, len(in))
	for i, q := range in {
		qs[i] = q.WithoutKey()
	}
	return qs
}

// RenderStudentDoc renders the student view of e (keys stripped unless
// graded) into the document every cache serves, tagged with the version it
// was rendered from.
func RenderStudentDoc(e *domain.Exam, render func(*domain.Exam) ([]byte, error)) (StudentDoc, error) {
	body, err := render(StudentView(e))
	if err != nil {
		return StudentDoc{}, err
	}
	return StudentDoc{Body: body, Version: e.Version, LevelID: e.LevelID, Status: e.Status}, nil
}

// Get returns the student document of an exam, rendering it on a miss from
// the catalogue or, if the catalogue has not seen the exam yet, from the
// store. found is false for an exam that does not exist or is a draft.
func (s *StudentExamCache) Get(ctx context.Context, examID string) (StudentDoc, bool, error) {
	s.mu.RLock()
	d, ok := s.docs[examID]
	s.mu.RUnlock()
	if ok {
		return d, true, nil
	}
	e, ok := s.catalog.Exam(examID)
	if !ok {
		loaded, err := s.loader.LoadExam(ctx, examID)
		if err != nil {
			return StudentDoc{}, false, err
		}
		if !loaded.Exists() {
			return StudentDoc{}, false, nil
		}
		e = loaded
	}
	if e.Status == domain.StatusDraft {
		return StudentDoc{}, false, nil
	}
	d, err := RenderStudentDoc(e, s.render)
	if err != nil {
		return StudentDoc{}, false, err
	}
	s.mu.Lock()
	if cur, ok := s.docs[examID]; (!ok || cur.Version < d.Version) && d.Version >= s.latest[examID] {
		s.docs[examID] = d
	}
	s.mu.Unlock()
	return d, true, nil
}
