package projections

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// Catalog is the in-process read model of exams, levels and users.
type Catalog struct {
	applied StreamVersions

	mu     sync.RWMutex
	exams  map[string]*domain.Exam
	levels map[string]domain.Level
	users  map[string]*domain.User
	emails map[string]string // email → user id
}

// NewCatalog returns an empty catalogue.
func NewCatalog() *Catalog {
	return &Catalog{exams: map[string]*domain.Exam{}, levels: map[string]domain.Level{}, users: map[string]*domain.User{}, emails: map[string]string{}}
}

func (c *Catalog) Name() string { return "catalog" }

// Categories: the streams this read model is built from.
func (c *Catalog) Categories() []string {
	return []string{domain.CategoryExam, domain.CategoryLevel, domain.CategoryUser}
}

// Apply folds each record not applied yet.
func (c *Catalog) Apply(_ context.Context, batch []Delivered) error {
	for _, d := range batch {
		if c.applied.Claim(d.Record) {
			c.apply(d.Record, d.Data)
		}
	}
	return nil
}

func (c *Catalog) apply(rec eventstore.Record, data any) {
	if data == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch eventstore.Category(rec.StreamID) {
	case domain.CategoryExam:
		id := domain.StreamEntity(rec.StreamID)
		e := c.exams[id]
		if e == nil {
			e = &domain.Exam{}
		} else {
			cp := *e // readers may hold the old pointer; never mutate it
			e = &cp
		}
		e.Apply(rec.Version, data)
		c.exams[id] = e
	case domain.CategoryLevel:
		if l, ok := FoldLevel(data); ok {
			c.levels[l.ID] = l
		}
	case domain.CategoryUser:
		id := domain.StreamEntity(rec.StreamID)
		u := c.users[id]
		if u == nil {
			u = &domain.User{}
		} else {
			cp := *u
			u = &cp
		}
		u.Apply(rec.Version, data)
		c.users[id] = u
		if u.Email != "" {
			c.emails[u.Email] = u.ID
		}
	}
}

// Exam returns the folded exam (shared: do not modify).
func (c *Catalog) Exam(id string) (*domain.Exam, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.exams[id]
	return e, ok
}

// ExamFilter narrows ListExams.
type ExamFilter struct {
	Status  domain.ExamStatus
	LevelID string
	// Viewer decides visibility: students see published exams of their
	// level, doctors their own, admins all.
	Viewer domain.Actor
	// After is the id of the last exam of the previous page (the order is
	// created_at, id).
	AfterCreated time.Time
	AfterID      string
	Limit        int
}

// ListExams returns visible exams ordered by creation, and whether more follow.
func (c *Catalog) ListExams(f ExamFilter) ([]*domain.Exam, bool) {
	c.mu.RLock()
	out := make([]*domain.Exam, 0, 64)
	for _, e := range c.exams {
		if !e.VisibleTo(f.Viewer) {
			continue
		}
		if f.Status != "" && e.Status != f.Status {
			continue
		}
		if f.LevelID != "" && e.LevelID != f.LevelID {
			continue
		}
		if f.AfterID != "" && !after(e.CreatedAt, e.ID, f.AfterCreated, f.AfterID) {
			continue
		}
		out = append(out, e)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return after(out[j].CreatedAt, out[j].ID, out[i].CreatedAt, out[i].ID) })
	if f.Limit > 0 && len(out) > f.Limit {
		return out[:f.Limit], true
	}
	return out, false
}

func after(t time.Time, id string, refT time.Time, refID string) bool {
	if !t.Equal(refT) {
		return t.After(refT)
	}
	return id > refID
}

// DueExams lists exams the scheduler should look at: scheduled ones whose
// opening has come and open ones whose closing has passed.
func (c *Catalog) DueExams(now time.Time) []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var ids []string
	for id, e := range c.exams {
		if ExamDue(e, now) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// ExamDue is DueExams' rule for one exam (shared with the durable read
// models): it is scheduled and its opening has come, or open or scheduled
// and its closing has passed.
func ExamDue(e *domain.Exam, now time.Time) bool {
	switch {
	case e.Status == domain.StatusScheduled && e.OpensAt != nil && !now.Before(*e.OpensAt):
		return true
	case (e.Status == domain.StatusOpen || e.Status == domain.StatusScheduled) && e.ClosesAt != nil && !now.Before(*e.ClosesAt):
		return true
	}
	return false
}

// FoldLevel folds a level stream's event into the level it creates, or
// false when the event creates none (shared with the durable read models).
func FoldLevel(data any) (domain.Level, bool) {
	d, ok := data.(*domain.LevelCreated)
	if !ok {
		return domain.Level{}, false
	}
	return domain.Level{ID: d.LevelID, Name: d.Name, CreatedAt: d.CreatedAt}, true
}

// ExamsNeedingGrading lists closed exams not graded since their last change.
func (c *Catalog) ExamsNeedingGrading() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var ids []string
	for id, e := range c.exams {
		if e.NeedsGrading() {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Levels lists all levels by name.
func (c *Catalog) Levels() []domain.Level {
	c.mu.RLock()
	out := make([]domain.Level, 0, len(c.levels))
	for _, l := range c.levels {
		out = append(out, l)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// User returns a user (shared: do not modify).
func (c *Catalog) User(id string) (*domain.User, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	u, ok := c.users[id]
	return u, ok
}

// UserFilter narrows ListUsers.
type UserFilter struct {
	Role    domain.Role
	LevelID string
	Search  string // substring of email or name, case-insensitive
	AfterID string
	Limit   int
}

// ListUsers returns users ordered by email, and whether more follow.
func (c *Catalog) ListUsers(f UserFilter) ([]*domain.User, bool) {
	search := strings.ToLower(strings.TrimSpace(f.Search))
	c.mu.RLock()
	out := make([]*domain.User, 0, 64)
	for _, u := range c.users {
		if f.Role != "" && u.Role != f.Role {
			continue
		}
		if f.LevelID != "" && u.LevelID != f.LevelID {
			continue
		}
		if search != "" && !strings.Contains(u.Email, search) && !strings.Contains(strings.ToLower(u.FullName), search) {
			continue
		}
		if f.AfterID != "" && u.Email <= f.AfterID {
			continue
		}
		out = append(out, u)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	if f.Limit > 0 && len(out) > f.Limit {
		return out[:f.Limit], true
	}
	return out, false
}
