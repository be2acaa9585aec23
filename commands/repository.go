package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// Repository folds aggregates from their streams. It caches folded state per
// stream and, on each load, reads only the events after the cached version,
// so a hot stream (an exam thousands of students answer) costs one short
// range read instead of a full replay. The cache is only an accelerator: every
// load still asks the store for newer events, so replicas never act on stale
// state, and optimistic concurrency catches any remaining race.
type Repository struct {
	store eventstore.Store
	max   int

	mu    sync.Mutex
	cache map[string]cachedState
}

type cachedState struct {
	state   any // a private copy; never handed out
	version int64
}

// NewRepository returns a repository caching up to maxEntries streams.
func NewRepository(store eventstore.Store, maxEntries int) *Repository {
	return &Repository{store: store, max: maxEntries, cache: make(map[string]cachedState)}
}

func (r *Repository) cached(stream string) (any, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cache[stream]
	if !ok {
		return nil, 0
	}
	return c.state, c.version
}

func (r *Repository) remember(stream string, state any, version int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.cache[stream]; ok && c.version >= version {
		return
	}
	if len(r.cache) >= r.max {
		// Evict an arbitrary tenth: map order is random, which is good enough
		// for a cache that only saves replays.
		n := r.max / 10
		for k := range r.cache {
			if n <= 0 {
				break
			}
			delete(r.cache, k)
			n--
		}
	}
	r.cache[stream] = cachedState{state: state, version: version}
}

// folder is an aggregate that folds events.
type folder interface {
	Apply(version int64, data any)
}

// load folds stream into a fresh copy of its state. clone copies a state so
// the cached one is never shared with a caller.
func load[T any, PT interface {
	*T
	folder
}](ctx context.Context, r *Repository, stream string, clone func(PT) PT) (PT, []eventstore.Record, error) {
	var state PT
	var version int64
	if c, v := r.cached(stream); c != nil {
		state, version = clone(c.(PT)), v
	} else {
		state = new(T)
	}
	recs, err := r.store.Load(ctx, stream, version+1)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", stream, err)
	}
	for _, rec := range recs {
		data, err := domain.DecodeEvent(rec.Type, rec.Data)
		if err != nil {
			if errors.Is(err, domain.ErrUnknownEventType) {
				continue
			}
			return nil, nil, err
		}
		state.Apply(rec.Version, data)
	}
	if len(recs) > 0 {
		r.remember(stream, clone(state), recs[len(recs)-1].Version)
	}
	return state, recs, nil
}

func cloneExam(e *domain.Exam) *domain.Exam {
	c := *e // Apply replaces slices rather than mutating them, so sharing is safe
	return &c
}

func cloneAttempt(t *domain.Attempt) *domain.Attempt {
	c := *t
	// The entries are shared and immutable, and Apply only appends: with
	// its capacity clipped, an append by either copy reallocates instead of
	// writing into the other's array.
	c.History = t.History[:len(t.History):len(t.History)]
	return &c
}

func cloneGradebook(g *domain.Gradebook) *domain.Gradebook {
	return &domain.Gradebook{Scores: maps.Clone(g.Scores), Version: g.Version}
}

func cloneUser(u *domain.User) *domain.User          { c := *u; return &c }
func cloneSession(s *domain.Session) *domain.Session { c := *s; return &c }

// LoadExam folds an exam; a missing exam has Exists() false.
func (r *Repository) LoadExam(ctx context.Context, examID string) (*domain.Exam, error) {
	e, _, err := load(ctx, r, domain.ExamStream(examID), cloneExam)
	return e, err
}

// LoadAttempt folds a student's attempt at an exam.
func (r *Repository) LoadAttempt(ctx context.Context, examID, studentID string) (*domain.Attempt, error) {
	t, _, err := load(ctx, r, domain.AttemptStream(AttemptID(examID, studentID)), cloneAttempt)
	return t, err
}

// LoadGradebook folds an exam's grades stream: the score in force per
// student and the stream's version.
func (r *Repository) LoadGradebook(ctx context.Context, examID string) (*domain.Gradebook, error) {
	g, _, err := load(ctx, r, domain.GradesStream(examID), cloneGradebook)
	return g, err
}

// LoadUser folds a user; a missing user has Exists() false.
func (r *Repository) LoadUser(ctx context.Context, userID string) (*domain.User, error) {
	u, _, err := load(ctx, r, domain.UserStream(userID), cloneUser)
	return u, err
}

func (r *Repository) loadSession(ctx context.Context, familyID string) (*domain.Session, error) {
	s, _, err := load(ctx, r, domain.SessionStream(familyID), cloneSession)
	return s, err
}

// reservation is the current holder of an email address.
type reservation struct {
	UserID string
	// Released: the last event gave the address up (UserID is "").
	Released   bool
	ReservedAt time.Time
	Version    int64
}

// loadReservation reads the email reservation stream (uncached: it is read
// at login and registration only).
func (r *Repository) loadReservation(ctx context.Context, email string) (reservation, error) {
	recs, err := r.store.Load(ctx, domain.EmailStream(email), 1)
	if err != nil {
		return reservation{}, fmt.Errorf("load email reservation: %w", err)
	}
	var res reservation
	for _, rec := range recs {
		var d domain.EmailReserved
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return reservation{}, fmt.Errorf("decode reservation: %w", err)
		}
		if rec.Type == domain.TypeEmailReleased {
			// Given up: nobody holds the address.
			res = reservation{Released: true, ReservedAt: rec.OccurredAt, Version: rec.Version}
			continue
		}
		res = reservation{UserID: d.UserID, ReservedAt: rec.OccurredAt, Version: rec.Version}
	}
	return res, nil
}

// LoadUserByEmail finds the user holding an address through its
// reservation stream; nil when no user holds it.
func (r *Repository) LoadUserByEmail(ctx context.Context, email string) (*domain.User, error) {
	held, err := r.loadReservation(ctx, email)
	if err != nil || held.UserID == "" {
		return nil, err
	}
	u, err := r.LoadUser(ctx, held.UserID)
	if err != nil || !u.Exists() {
		return nil, err
	}
	return u, nil
}

// loadPasswordHash returns the latest password hash of a user ("" if none).
func (r *Repository) loadPasswordHash(ctx context.Context, userID string) (string, int64, error) {
	recs, err := r.store.Load(ctx, domain.CredentialsStream(userID), 1)
	if err != nil {
		return "", 0, fmt.Errorf("load credentials: %w", err)
	}
	var hash string
	var version int64
	for _, rec := range recs {
		var d domain.PasswordSet
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return "", 0, fmt.Errorf("decode credentials: %w", err)
		}
		hash, version = d.PasswordHash, rec.Version
	}
	return hash, version, nil
}

// LoadLevel reports whether a level exists, and its state.
func (r *Repository) LoadLevel(ctx context.Context, levelID string) (domain.Level, bool, error) {
	recs, err := r.store.Load(ctx, domain.LevelStream(levelID), 1)
	if err != nil || len(recs) == 0 {
		return domain.Level{}, false, err
	}
	var d domain.LevelCreated
	if err := json.Unmarshal(recs[0].Data, &d); err != nil {
		return domain.Level{}, false, fmt.Errorf("decode level: %w", err)
	}
	return domain.Level{ID: d.LevelID, Name: d.Name, CreatedAt: d.CreatedAt}, true, nil
}

// ImageUploaded reports whether image.uploaded.v1 is in the log for id: the
// write side decides from the event store alone whether a question may name
// an image. The upload stores the bytes before it appends the event, so an
// image the log names always has its bytes.
func (r *Repository) ImageUploaded(ctx context.Context, id string) (bool, error) {
	if !domain.ValidImageID(id) {
		return false, nil
	}
	recs, err := r.store.Load(ctx, domain.ImageStream(id), 1)
	if err != nil {
		return false, fmt.Errorf("load image %s: %w", id, err)
	}
	return len(recs) > 0, nil
}

// writer turns domain events into store records and appends them.
type writer struct {
	store eventstore.Store
	now   func() time.Time
	newID func() string
}

// append writes events to stream at expectedVersion. A lost race comes back
// as domain.ErrConflict (wrapping the store's *ConflictError).
func (w *writer) append(ctx context.Context, m Meta, stream string, expected int64, at time.Time, events []domain.Event) (eventstore.AppendResult, error) {
	if len(events) == 0 {
		return eventstore.AppendResult{}, nil
	}
	recs := make([]eventstore.Record, len(events))
	for i, ev := range events {
		data, err := json.Marshal(ev.Data)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("encode %s: %w", ev.Type, err)
		}
		recs[i] = eventstore.Record{
			EventID: m.eventID(w.newID, stream, i), StreamID: stream, Type: ev.Type, OccurredAt: at.UTC(),
			ActorID: m.Actor.ID, ActorRole: string(m.Actor.Role), CorrelationID: m.RequestID,
			Tags: ev.Tags, Data: data,
		}
	}
	res, err := w.store.Append(ctx, stream, expected, recs)
	if errors.Is(err, eventstore.ErrDuplicateEventID) && m.IdempotencyKey != "" {
		// Keyed event ids derive from (actor, key, stream, index), so this
		// id can only be the same command's, already stored in this stream:
		// a retry (a replica died after appending, before recording the
		// response) that decided differently because the stream has moved
		// on since — e.g. the first answer's append also started the
		// attempt. The command took effect once; answer as for a duplicate.
		return eventstore.AppendResult{Duplicate: true}, nil
	}
	if errors.Is(err, eventstore.ErrVersionConflict) {
		return res, fmt.Errorf("%w: %w", domain.ErrConflict, err)
	}
	if err != nil {
		return res, fmt.Errorf("append to %s: %w", stream, err)
	}
	return res, nil
}

// applyAll folds freshly decided events into a state (they were decided
// from it, so the result is what a reload would give).
func applyAll(f folder, from int64, events []domain.Event) {
	for i, ev := range events {
		f.Apply(from+int64(i), ev.Data)
	}
}
