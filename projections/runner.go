// Package projections builds the read models (exam catalogue, user
// directory, student exam cache, results) from events, and holds the
// reactors that act on events: the grader and the scheduler.
//
// Read models here are in-process (the embedded mode): they are rebuilt from
// the event store's global feed at start-up and then follow the bus. Every
// projection is idempotent: a Runner applies each (stream, version) once, so
// redelivery after a relay restart is harmless.
package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/relay"
)

// Projection folds events into a read model. Apply is called with the
// record and its decoded payload, once per event of the categories it
// reads, in per-stream order, under the Runner's lock.
type Projection interface {
	Name() string
	// Categories lists the stream categories the projection reads; events of
	// other categories are not even decoded for it.
	Categories() []string
	Apply(rec eventstore.Record, data any)
}

// Runner feeds projections from the store (catch-up) and from the bus,
// applying each stream version exactly once.
type Runner struct {
	projections []Projection
	byCategory  map[string][]Projection
	log         *slog.Logger

	mu      sync.Mutex
	applied map[string]int64 // stream → last applied version
	events  uint64
	changed eventstore.Broadcaster // after every applied event
}

// NewRunner returns a runner over the projections.
func NewRunner(log *slog.Logger, ps ...Projection) *Runner {
	if log == nil {
		log = slog.Default()
	}
	byCategory := map[string][]Projection{}
	for _, p := range ps {
		for _, c := range p.Categories() {
			byCategory[c] = append(byCategory[c], p)
		}
	}
	return &Runner{projections: ps, byCategory: byCategory, log: log, applied: map[string]int64{}}
}

// ApplyRecord applies one record to every projection unless its stream
// version was applied already. It reports whether it was applied.
func (r *Runner) ApplyRecord(rec eventstore.Record) bool {
	targets := r.byCategory[eventstore.Category(rec.StreamID)]
	var data any
	if len(targets) > 0 {
		var err error
		data, err = domain.DecodeEvent(rec.Type, rec.Data)
		if errors.Is(err, domain.ErrUnknownEventType) {
			data = nil // still recorded as applied: unknown events are skipped
		} else if err != nil {
			r.log.Error("projection: undecodable event skipped", "type", rec.Type, "stream", rec.StreamID, "version", rec.Version, "err", err)
			data = nil
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.Version <= r.applied[rec.StreamID] {
		return false
	}
	r.applied[rec.StreamID] = rec.Version
	if data != nil {
		for _, p := range targets {
			p.Apply(rec, data)
		}
	}
	r.events++
	r.changed.Broadcast()
	return true
}

// Applied returns how many events have been applied.
func (r *Runner) Applied() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events
}

// CatchUp applies the store's global feed from the start to its head; it
// is how in-process read models are rebuilt at start-up. progress, when
// set, is called with (done, total) positions.
func (r *Runner) CatchUp(ctx context.Context, store eventstore.Store, progress func(done, total uint64)) (uint64, error) {
	head, err := store.Head(ctx)
	if err != nil {
		return 0, fmt.Errorf("catch up: %w", err)
	}
	var after uint64
	for after < head {
		recs, err := store.ReadAll(ctx, after, 2000)
		if err != nil {
			return after, fmt.Errorf("catch up: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			r.ApplyRecord(rec)
		}
		after = recs[len(recs)-1].Position
		if progress != nil {
			progress(after, head)
		}
	}
	return after, nil
}

// Subscribe consumes every topic from the bus until ctx ends. Each
// message is applied (or skipped as already applied) and acknowledged;
// a message that cannot be decoded is logged and acknowledged, never retried
// forever.
func (r *Runner) Subscribe(ctx context.Context, sub message.Subscriber, topics []string) error {
	for _, topic := range topics {
		msgs, err := sub.Subscribe(ctx, topic)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", topic, err)
		}
		go func() {
			for msg := range msgs {
				rec, err := relay.DecodeMessage(msg)
				if err != nil {
					r.log.Error("projection: bad message skipped", "topic", topic, "err", err)
				} else {
					r.ApplyRecord(rec)
				}
				msg.Ack()
			}
		}()
	}
	return nil
}

// WaitFor waits until cond holds (checked after every applied event) or the
// timeout passes; it reports whether cond held.
func (r *Runner) WaitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if r.changed.Wait(ctx, func() (bool, error) { return cond(), nil }) != nil {
		return cond()
	}
	return true
}
