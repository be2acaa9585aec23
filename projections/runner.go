// Package projections builds the read models (exam catalogue, user
// directory, student exam cache, results) from events, and holds the
// reactors that act on events: the grader and the scheduler.
//
// # One read-side runtime
//
// Every read-side consumer — the in-process read models, the PostgreSQL
// projections, the Redis warmer, the grader — implements Projection, and a
// Runner is the only thing that feeds one: from the store's global feed
// (CatchUp: the embedded mode's start-up, `examd rebuild`) and from a bus
// (Consume: the in-process bus or a Kafka consumer group, through
// watermill's message.Router). Guarantees, whoever delivers:
//
//   - per-stream order: a stream's records reach a projection in version
//     order (the store's feed is in position order; a bus partition or an
//     in-process subscription hands over its next message only after the
//     previous one is acknowledged);
//   - each (stream, version) is applied once: projections skip what they
//     have applied (StreamVersions in process, a checkpoint in the same
//     transaction as the rows when durable), so redelivery is harmless and
//     a restart resumes;
//   - one failure policy, below.
//
// # Failure policy
//
// A projection whose Apply fails (its database is down) gets the same batch
// again after a capped exponential backoff (50 ms doubling to 5 s,
// jittered), for as long as it takes: the runner never skips a record,
// because a skipped version would break per-stream order for good, and the
// write side never waits for it meanwhile. Only the context ending stops the
// retries; a bus message is then nacked and delivered again later. A bus
// message that is not an event envelope, or an event whose payload this
// build cannot decode, can never succeed: it is logged and acknowledged
// (delivered with nil Data, so projections record its version), never
// retried forever. Watermill's poison-queue middleware is not used: there is
// no consumer for a poison topic, and every message that could be poisoned
// is one of those undecodable ones, already logged and acknowledged.
package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/cenkalti/backoff/v5"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/relay"
)

// The runner's retry schedule for a failed Apply: the one failure policy of
// the read side (see the package documentation).
const (
	backoffInitial    = 50 * time.Millisecond
	backoffMax        = 5 * time.Second
	backoffMultiplier = 2
	backoffJitter     = 0.5
)

// catchUpPage is how many records CatchUp reads per call to the store (and
// hands to each projection as one batch, at most).
const catchUpPage = 2000

// Runner feeds a set of projections. Safe for concurrent use.
type Runner struct {
	projections []Projection
	byCategory  map[string][]Projection
	log         *slog.Logger

	mu      sync.Mutex
	events  uint64
	changed eventstore.Broadcaster // after every handled record
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
	return &Runner{projections: ps, byCategory: byCategory, log: log}
}

// Applied returns how many records the runner has handed to its projections
// (every record of the feed it read counts, also those no projection reads,
// and a redelivery counts again).
func (r *Runner) Applied() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events
}

// decode turns a record into what projections get; an undecodable payload
// is logged and delivered with nil Data (see the failure policy).
func (r *Runner) decode(rec eventstore.Record, from Delivery) Delivered {
	data, err := domain.DecodeEvent(rec.Type, rec.Data)
	switch {
	case errors.Is(err, domain.ErrUnknownEventType):
		data = nil
	case err != nil:
		r.log.Error("projection: undecodable event skipped", "type", rec.Type, "stream", rec.StreamID, "version", rec.Version, "err", err)
		data = nil
	}
	return Delivered{Record: rec, Data: data, From: from}
}

// apply hands the records to every projection that reads them, each
// projection its own batch, retrying a failed batch by the failure policy
// until it succeeds or ctx ends.
func (r *Runner) apply(ctx context.Context, recs []eventstore.Record, from func(i int) Delivery) error {
	batches := map[Projection][]Delivered{}
	decoded := map[int]Delivered{}
	for i, rec := range recs {
		for _, p := range r.byCategory[eventstore.Category(rec.StreamID)] {
			d, ok := decoded[i]
			if !ok {
				d = r.decode(rec, from(i))
				decoded[i] = d
			}
			batches[p] = append(batches[p], d)
		}
	}
	for _, p := range r.projections {
		batch := batches[p]
		if len(batch) == 0 {
			continue
		}
		if err := r.applyWithRetry(ctx, p, batch); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.events += uint64(len(recs))
	r.mu.Unlock()
	r.changed.Broadcast()
	return nil
}

func (r *Runner) applyWithRetry(ctx context.Context, p Projection, batch []Delivered) error {
	attempt := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := p.Apply(ctx, batch)
		if err != nil && ctx.Err() != nil {
			return struct{}{}, backoff.Permanent(ctx.Err())
		}
		return struct{}{}, err
	}, backoff.WithBackOff(newBackoff()), backoff.WithMaxElapsedTime(0), backoff.WithMaxTries(0),
		backoff.WithNotify(func(err error, wait time.Duration) {
			attempt++
			first := batch[0].Record
			r.log.Warn("projection: apply failed; retrying", "projection", p.Name(), "stream", first.StreamID,
				"version", first.Version, "records", len(batch), "attempt", attempt, "in", wait, "err", err)
		}))
	if err != nil {
		return fmt.Errorf("projection %s: %w", p.Name(), err)
	}
	return nil
}

func newBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = backoffInitial, backoffMax
	b.Multiplier, b.RandomizationFactor = backoffMultiplier, backoffJitter
	return b
}

// CatchUp applies the store's global feed after position after up to the
// head it finds at the start, page by page (one batch per projection and
// page): how in-process read models are rebuilt at start-up and PostgreSQL
// read models by `examd rebuild`. progress, when set, is called with
// (done, total) positions. It returns the last position applied.
func (r *Runner) CatchUp(ctx context.Context, store eventstore.Store, after uint64, progress func(done, total uint64)) (uint64, error) {
	head, err := store.Head(ctx)
	if err != nil {
		return after, fmt.Errorf("catch up: %w", err)
	}
	for after < head {
		recs, err := store.ReadAll(ctx, after, catchUpPage)
		if err != nil {
			return after, fmt.Errorf("catch up: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		if err := r.apply(ctx, recs, func(int) Delivery { return NoDelivery }); err != nil {
			return after, fmt.Errorf("catch up: %w", err)
		}
		after = recs[len(recs)-1].Position
		if progress != nil {
			progress(after, head)
		}
	}
	return after, nil
}

// ApplyRecord hands one record to the projections that read it, as a bus
// delivery without a partition would: for tests and harnesses that feed a
// runner record by record.
func (r *Runner) ApplyRecord(ctx context.Context, rec eventstore.Record) error {
	return r.apply(ctx, []eventstore.Record{rec}, func(int) Delivery { return NoDelivery })
}

// Topics lists the bus topics that carry the runner's categories.
func (r *Runner) Topics() []string { return Topics(r.projections...) }

// Topics lists the bus topics (relay.DefaultTopics) that carry the
// projections' categories.
func Topics(ps ...Projection) []string {
	var topics []string
	seen := map[string]bool{}
	for _, p := range ps {
		for _, c := range p.Categories() {
			if t, ok := relay.DefaultTopics[c]; ok && !seen[t] {
				seen[t] = true
				topics = append(topics, t)
			}
		}
	}
	return topics
}

// Consume feeds the projections from the bus until ctx ends, through a
// watermill message.Router with one handler per topic (Topics). It returns
// once the router is running (every subscription is in place, so nothing
// published after it returns is missed); the router stops when ctx ends.
// origin, when set, names each message's partition and offset. sub is not
// closed by the runner: its owner closes it.
//
// A message is decoded and applied to every projection of the runner that
// reads its category before it is acknowledged, so an acknowledged record
// is in all of them (what the in-process bus's watermark relies on).
// Failures follow the failure policy: the router's Retry middleware
// retries a failed apply on the same schedule, without limit.
func (r *Runner) Consume(ctx context.Context, sub message.Subscriber, origin DeliveryOf) error {
	return r.ConsumeTopics(ctx, sub, r.Topics(), origin)
}

// ConsumeTopics is Consume over the named topics instead of the default
// ones (a relay configured with other topic names, as tests are).
func (r *Runner) ConsumeTopics(ctx context.Context, sub message.Subscriber, topics []string, origin DeliveryOf) error {
	logger := watermill.NewSlogLogger(r.log.With("component", "router"))
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, logger)
	if err != nil {
		return fmt.Errorf("projections: router: %w", err)
	}
	router.AddMiddleware(middleware.Retry{
		MaxRetries:      math.MaxInt32,
		InitialInterval: backoffInitial, MaxInterval: backoffMax,
		Multiplier: backoffMultiplier, RandomizationFactor: backoffJitter,
		// A cancelled apply (the consumer is stopping, or lost the
		// partition) is nacked at once: the message is redelivered, here
		// or to the partition's new owner.
		ShouldRetry: func(p middleware.RetryParams) bool { return !errors.Is(p.Err, context.Canceled) },
		// No Logger: handle logs each failure itself, in the words the
		// catch-up uses.
	}.Middleware)
	for _, topic := range topics {
		router.AddConsumerHandler(r.name()+"@"+topic, topic, keepOpen{sub}, func(msg *message.Message) error {
			return r.handle(msg, topic, origin)
		})
	}
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	select {
	case <-router.Running():
		return nil
	case err := <-done:
		if err == nil {
			err = ctx.Err()
		}
		return fmt.Errorf("projections: consume: %w", err)
	}
}

// handle applies one bus message; see Consume.
func (r *Runner) handle(msg *message.Message, topic string, origin DeliveryOf) error {
	rec, err := relay.DecodeMessage(msg)
	if err != nil {
		r.log.Error("projection: bad message skipped", "topic", topic, "err", err)
		return nil
	}
	from := NoDelivery
	if origin != nil {
		if part, off, ok := origin(msg); ok {
			from = Delivery{Topic: topic, Partition: part, Offset: off}
		}
	}
	// One attempt per call: the Retry middleware owns the schedule. A
	// retry applies the record to every projection again; those that have
	// it skip it.
	targets := r.byCategory[eventstore.Category(rec.StreamID)]
	if len(targets) > 0 {
		batch := []Delivered{r.decode(rec, from)}
		for _, p := range targets {
			if err := p.Apply(msg.Context(), batch); err != nil {
				if !errors.Is(err, context.Canceled) {
					r.log.Warn("projection: apply failed; retrying", "projection", p.Name(), "stream", rec.StreamID,
						"version", rec.Version, "topic", topic, "err", err)
				}
				return fmt.Errorf("projection %s: %w", p.Name(), err)
			}
		}
	}
	r.mu.Lock()
	r.events++
	r.mu.Unlock()
	r.changed.Broadcast()
	return nil
}

// name names the runner's router handlers after its projections.
func (r *Runner) name() string {
	if len(r.projections) == 1 {
		return r.projections[0].Name()
	}
	return "in-process"
}

// keepOpen hands the router a subscriber it cannot close: the router closes
// its handlers' subscribers when it stops, but the subscriber (the shared
// in-process bus, a consumer group) belongs to the caller.
type keepOpen struct{ message.Subscriber }

func (keepOpen) Close() error { return nil }

// WaitFor waits until cond holds (checked after every handled record) or
// the timeout passes; it reports whether cond held.
func (r *Runner) WaitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if r.changed.Wait(ctx, func() (bool, error) { return cond(), nil }) != nil {
		return cond()
	}
	return true
}
