package rediscache

import (
	"context"
	"fmt"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
)

// Warmer returns the projection that renders each new exam version into
// Redis as soon as it is written, so the first students of an exam find
// its document there instead of all missing at once.
func (c *Cache) Warmer() projections.Projection { return warmer{c} }

type warmer struct{ c *Cache }

var _ projections.Projection = warmer{}

// Name is permanent (it names the consumer group).
func (w warmer) Name() string { return "student-cache" }

func (w warmer) Categories() []string { return []string{domain.CategoryExam} }

// Apply warms each record's exam in turn (ApplyRecord).
func (w warmer) Apply(ctx context.Context, batch []projections.Delivered) error {
	for _, d := range batch {
		if err := w.ApplyRecord(ctx, d.Record, d.From); err != nil {
			return err
		}
	}
	return nil
}

// ApplyRecord loads the exam from the event store, which is always at least
// at rec's version, and stores the document of the version it loaded. It is
// idempotent: a redelivered record stores the same document again under the
// same key. It writes no checkpoint: the versioned key is its own record of
// what was applied, and writing it again is harmless.
func (w warmer) ApplyRecord(ctx context.Context, rec eventstore.Record, _ projections.Delivery) error {
	if eventstore.Category(rec.StreamID) != domain.CategoryExam {
		return nil
	}
	id := domain.StreamEntity(rec.StreamID)
	e, err := w.c.cfg.Fallback.LoadExam(ctx, id)
	if err != nil {
		return fmt.Errorf("rediscache warmer: load exam %s: %w", id, err)
	}
	if e == nil || !e.Exists() || e.Status == domain.StatusDraft {
		return nil // nothing a student may see
	}
	if e.Version < rec.Version {
		// The store must be at least where the bus is; retry rather than
		// warm a version that is already stale.
		return fmt.Errorf("rediscache warmer: exam %s loaded at version %d, record is %d", id, e.Version, rec.Version)
	}
	doc, err := w.c.render(e)
	if err != nil {
		return err
	}
	val, ok := encode(doc)
	if !ok {
		return nil
	}
	if err := w.c.cfg.Client.Set(ctx, w.c.Key(id, e.Version), val, w.c.cfg.TTL).Err(); err != nil {
		return fmt.Errorf("rediscache warmer: set %s: %w", id, err)
	}
	return nil
}
