// Package relay publishes stored events to the bus. Publication is driven
// from the store's global log with a durable checkpoint, never from the
// command path, so an event appended just before a crash is still published
// (at least once), and each stream's events go out in version order.
//
// Messages follow the CloudEvents Kafka binding in binary mode: the payload
// is the event's JSON data and the attributes travel as ce_* headers, so any
// consumer can read them without this code.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"

	"github.com/examhall/exam/eventstore"
)

// DefaultTopics maps stream categories to topics. Categories not listed
// (credentials, email, session, idempotency) are private: never published.
var DefaultTopics = map[string]string{
	"exam":    "exam.exams",
	"attempt": "exam.attempts",
	"grades":  "exam.grades",
	"user":    "exam.users",
	"level":   "exam.levels",
}

// CloudEvents attribute headers.
const (
	HeaderID            = "ce_id"
	HeaderType          = "ce_type"
	HeaderSource        = "ce_source"
	HeaderTime          = "ce_time"
	HeaderSpecVersion   = "ce_specversion"
	HeaderSubject       = "ce_subject"
	HeaderStreamVersion = "ce_streamversion"
	HeaderPosition      = "ce_position"
	HeaderActorID       = "ce_actorid"
	HeaderActorRole     = "ce_actorrole"
	HeaderCorrelationID = "ce_correlationid"
	HeaderCausationID   = "ce_causationid"
	HeaderTags          = "ce_tags"
	HeaderContentType   = "content-type"
	// HeaderPartitionKey carries the stream id for partitioning marshalers.
	HeaderPartitionKey = "partition_key"
)

// EncodeMessage turns a record into a bus message.
func EncodeMessage(r eventstore.Record) *message.Message {
	m := message.NewMessage(r.EventID, r.Data)
	md := m.Metadata
	md.Set(HeaderID, r.EventID)
	md.Set(HeaderType, r.Type)
	md.Set(HeaderSource, "/examhall/"+eventstore.Category(r.StreamID))
	md.Set(HeaderTime, r.OccurredAt.UTC().Format(time.RFC3339Nano))
	md.Set(HeaderSpecVersion, "1.0")
	md.Set(HeaderSubject, r.StreamID)
	md.Set(HeaderStreamVersion, strconv.FormatInt(r.Version, 10))
	md.Set(HeaderPosition, strconv.FormatUint(r.Position, 10))
	md.Set(HeaderActorID, r.ActorID)
	md.Set(HeaderActorRole, r.ActorRole)
	md.Set(HeaderCorrelationID, r.CorrelationID)
	md.Set(HeaderCausationID, r.CausationID)
	md.Set(HeaderTags, strings.Join(r.Tags, ","))
	md.Set(HeaderContentType, "application/json")
	md.Set(HeaderPartitionKey, r.StreamID)
	return m
}

// ErrBadMessage wraps every reason a message is not a valid event.
var ErrBadMessage = errors.New("relay: bad message")

// DecodeMessage turns a bus message back into a record. A nil message, a
// missing or malformed required attribute (ce_id, ce_type, ce_source
// matching the subject's category, ce_subject, ce_time, ce_specversion 1.0,
// ce_streamversion, ce_position) or a content type other than JSON is an
// error wrapping ErrBadMessage.
func DecodeMessage(m *message.Message) (eventstore.Record, error) {
	bad := func(format string, a ...any) (eventstore.Record, error) {
		return eventstore.Record{}, fmt.Errorf("%w: "+format, append([]any{ErrBadMessage}, a...)...)
	}
	if m == nil {
		return bad("nil message")
	}
	md := m.Metadata
	if v := md.Get(HeaderSpecVersion); v != "1.0" {
		return bad("ce_specversion %q", v)
	}
	r := eventstore.Record{
		EventID: md.Get(HeaderID), Type: md.Get(HeaderType), StreamID: md.Get(HeaderSubject),
		ActorID: md.Get(HeaderActorID), ActorRole: md.Get(HeaderActorRole),
		CorrelationID: md.Get(HeaderCorrelationID), CausationID: md.Get(HeaderCausationID),
		Data: m.Payload,
	}
	if r.EventID == "" || r.Type == "" || r.StreamID == "" {
		return bad("ce_id, ce_type and ce_subject are required")
	}
	if v, want := md.Get(HeaderSource), "/examhall/"+eventstore.Category(r.StreamID); v != want {
		return bad("ce_source %q, want %q", v, want)
	}
	if v := md.Get(HeaderContentType); v != "" {
		if mt, _, err := mime.ParseMediaType(v); err != nil || mt != "application/json" {
			return bad("content-type %q", v)
		}
	}
	var err error
	if r.Version, err = strconv.ParseInt(md.Get(HeaderStreamVersion), 10, 64); err != nil || r.Version < 1 {
		return bad("ce_streamversion %q", md.Get(HeaderStreamVersion))
	}
	if r.Position, err = strconv.ParseUint(md.Get(HeaderPosition), 10, 64); err != nil {
		return bad("ce_position %q", md.Get(HeaderPosition))
	}
	if r.OccurredAt, err = time.Parse(time.RFC3339Nano, md.Get(HeaderTime)); err != nil {
		return bad("ce_time %q", md.Get(HeaderTime))
	}
	r.OccurredAt = r.OccurredAt.UTC()
	if tags := md.Get(HeaderTags); tags != "" {
		r.Tags = strings.Split(tags, ",")
	}
	return r, nil
}

// Config configures a relay.
type Config struct {
	// Name is the checkpoint name; keep it permanent (a new name republishes
	// everything).
	Name        string
	Store       eventstore.Store
	Checkpoints eventstore.CheckpointStore
	Publisher   message.Publisher
	// Topics maps categories to topics (DefaultTopics when nil).
	Topics map[string]string
	// BatchSize is how many events one read takes (default 500).
	BatchSize int
	// PollInterval is used when the store cannot signal new events (default 100ms).
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("relay: Name is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("relay: Store is required"))
	}
	if c.Checkpoints == nil {
		errs = append(errs, errors.New("relay: Checkpoints is required"))
	}
	if c.Publisher == nil {
		errs = append(errs, errors.New("relay: Publisher is required"))
	}
	if c.BatchSize < 0 || c.PollInterval < 0 {
		errs = append(errs, errors.New("relay: BatchSize and PollInterval must not be negative"))
	}
	return errors.Join(errs...)
}

// Relay tails the store and publishes.
type Relay struct {
	cfg       Config
	published atomic.Uint64

	advance eventstore.Broadcaster // whenever published moves
}

// New returns a relay.
func New(cfg Config) (*Relay, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Topics == nil {
		cfg.Topics = DefaultTopics
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 500
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Relay{cfg: cfg}, nil
}

// Published is the position up to which everything has been published and
// checkpointed.
func (r *Relay) Published() uint64 { return r.published.Load() }

// WaitPublished blocks until Published() >= pos or ctx ends.
func (r *Relay) WaitPublished(ctx context.Context, pos uint64) error {
	return r.advance.Wait(ctx, func() (bool, error) { return r.published.Load() >= pos, nil })
}

func (r *Relay) setPublished(pos uint64) {
	r.published.Store(pos)
	r.advance.Broadcast()
}

// Run publishes until ctx ends (it returns ctx.Err()) or the store is
// closed. Failing to load the checkpoint, read, publish or checkpoint is
// logged and retried with backoff; the checkpoint never passes an event that
// was not published.
func (r *Relay) Run(ctx context.Context) error {
	pos, err := backoff.Retry(ctx, func() (uint64, error) {
		pos, err := r.cfg.Checkpoints.LoadCheckpoint(ctx, r.cfg.Name)
		return pos, r.permanent(ctx, err)
	}, r.retryOptions("load checkpoint", 0)...)
	if err != nil {
		return fmt.Errorf("relay %s: load checkpoint: %w", r.cfg.Name, err)
	}
	failures := newBackoff()
	r.setPublished(pos)
	signalled := false // the store's last wait signalled events
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := r.step(ctx, pos)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, eventstore.ErrClosed) {
				return fmt.Errorf("relay %s: %w", r.cfg.Name, err)
			}
			d := failures.NextBackOff()
			r.cfg.Logger.Warn("relay: read failed; retrying", "relay", r.cfg.Name, "position", pos, "retry_in", d, "err", err)
			if !sleep(ctx, d) {
				return ctx.Err()
			}
			continue
		}
		failures.Reset()
		if next == pos {
			if signalled {
				// The store said there were events but the feed shows none
				// yet (a backend reading behind a consistency delay): poll
				// instead of spinning.
				if !sleep(ctx, r.cfg.PollInterval) {
					return ctx.Err()
				}
			}
			if signalled, err = r.wait(ctx, pos); err != nil {
				return err
			}
			continue
		}
		signalled = false
		pos = next
		r.setPublished(pos)
	}
}

// step publishes one batch after pos and checkpoints it; it returns the new
// position (pos itself when there was nothing to read). A failed publish or
// checkpoint save is retried in place, with backoff, until it succeeds or
// ctx ends: runs already published are not published again, and the
// checkpoint never passes an event that was not published.
func (r *Relay) step(ctx context.Context, pos uint64) (uint64, error) {
	recs, err := r.cfg.Store.ReadAll(ctx, pos, r.cfg.BatchSize)
	if err != nil || len(recs) == 0 {
		return pos, err
	}
	if err := r.publish(ctx, recs); err != nil {
		return pos, err
	}
	last := recs[len(recs)-1].Position
	err = r.retry(ctx, "save checkpoint", last, func() error {
		// Until this succeeds the batch is published but not checkpointed:
		// a restart publishes it again (at least once), never skips it.
		return r.cfg.Checkpoints.SaveCheckpoint(ctx, r.cfg.Name, last)
	})
	if err != nil {
		return pos, err
	}
	return last, nil
}

// publish sends records in order, one Publish call per run of consecutive
// records for the same topic, so order holds per stream and globally.
func (r *Relay) publish(ctx context.Context, recs []eventstore.Record) error {
	for start := 0; start < len(recs); {
		topic, ok := r.cfg.Topics[eventstore.Category(recs[start].StreamID)]
		end := start + 1
		for end < len(recs) {
			t, ok2 := r.cfg.Topics[eventstore.Category(recs[end].StreamID)]
			if ok2 != ok || t != topic {
				break
			}
			end++
		}
		run := recs[start:end]
		start = end
		if !ok {
			continue // private categories: never published, but checkpointed
		}
		err := r.retry(ctx, "publish", run[0].Position, func() error {
			msgs := make([]*message.Message, len(run)) // fresh messages for every attempt
			for i, rec := range run {
				msgs[i] = EncodeMessage(rec)
			}
			return r.cfg.Publisher.Publish(topic, msgs...)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// retry runs op until it succeeds, with exponential backoff between
// failures; it gives up only when ctx ends or the store is closed.
func (r *Relay) retry(ctx context.Context, what string, pos uint64, op func() error) error {
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		return struct{}{}, r.permanent(ctx, op())
	}, r.retryOptions(what, pos)...)
	return err
}

// permanent marks the errors no retry can cure: the context ended or the
// store is closed.
func (r *Relay) permanent(ctx context.Context, err error) error {
	if err != nil && (ctx.Err() != nil || errors.Is(err, eventstore.ErrClosed)) {
		return backoff.Permanent(err)
	}
	return err
}

// retryOptions retry without limit by newBackoff, logging every failure.
func (r *Relay) retryOptions(what string, pos uint64) []backoff.RetryOption {
	return []backoff.RetryOption{
		backoff.WithBackOff(newBackoff()), backoff.WithMaxTries(0), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, d time.Duration) {
			r.cfg.Logger.Warn("relay: "+what+" failed; retrying", "relay", r.cfg.Name, "position", pos, "retry_in", d, "err", err)
		}),
	}
}

// wait blocks until the store may have events after pos. It reports
// whether the store signalled them (rather than a timeout or a poll).
func (r *Relay) wait(ctx context.Context, pos uint64) (bool, error) {
	if w, ok := r.cfg.Store.(eventstore.Waiter); ok {
		// Bounded so a missed signal can never stall the relay for long.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := w.WaitForEvents(wctx, pos)
		cancel()
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return false, err
		}
		return err == nil, nil
	}
	if !sleep(ctx, r.cfg.PollInterval) {
		return false, ctx.Err()
	}
	return false, nil
}

// newBackoff is the relay's retry schedule: 50 ms doubling to at most
// 3.2 s (the bus is back within seconds of returning), jittered so that
// relays of several processes do not retry in step.
func newBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.Multiplier, b.RandomizationFactor = 50*time.Millisecond, 3200*time.Millisecond, 2, 0.2
	return b
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
