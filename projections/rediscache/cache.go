// Package rediscache keeps the student views of exams in Redis: the cache of
// the distributed mode, shared by every API replica.
//
// A document lives under a versioned key, <prefix>sdoc:<examID>:<version>,
// and the version to look up comes from the read side (PostgreSQL, through
// ExamSource.ExamHead). A newer exam version is a different key, so nothing
// has to be invalidated and a stale document can never be served once the
// read side knows the newer version; old keys simply expire (TTL).
//
// Redis is an accelerator, never a dependency of correctness or of
// availability: when it fails, Get renders from the read side, and a short
// circuit breaker keeps a dead Redis from adding a timeout to every request.
package rediscache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/internal/redisguard"
	"github.com/examhall/exam/projections"
	"github.com/redis/go-redis/v9"
)

// ExamSource is the read side's view of the exam catalogue (the PostgreSQL
// read model). ExamHead is cheap (one indexed row); Exam loads the folded
// exam. found is false when the read model has not seen the exam (yet).
type ExamSource interface {
	ExamHead(ctx context.Context, id string) (version int64, found bool, err error)
	Exam(ctx context.Context, id string) (*domain.Exam, bool, error)
}

// Defaults applied by New.
const (
	DefaultTTL             = 6 * time.Hour
	DefaultBreakerCooldown = time.Second
	DefaultLogEvery        = 10 * time.Second
)

// Config configures New. Client, Source, Fallback and Render are required.
type Config struct {
	Client redis.UniversalClient
	// Prefix starts every key (e.g. "exam:"), so several deployments or
	// tests can share one Redis.
	Prefix string
	// Source gives the version to serve and the exam to render.
	Source ExamSource
	// Fallback loads an exam from the event store: used when the read model
	// has not seen the exam yet or is unreachable, and by the Warmer.
	Fallback projections.ExamLoader
	// Render produces the JSON document of a student view.
	Render func(*domain.Exam) ([]byte, error)
	// TTL bounds how long a document is kept (default 6h). Every version
	// is a new key, so the TTL is what frees the old ones.
	TTL time.Duration
	// BreakerCooldown is how long Redis is skipped after one of its errors
	// (default 1s).
	BreakerCooldown time.Duration
	// LogEvery rate-limits the Redis warnings (default 10s).
	LogEvery time.Duration
	Logger   *slog.Logger
	// Now is the clock of the breaker and the log limiter (default time.Now).
	Now func() time.Time
}

// Validate reports every missing or invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("rediscache: Client is required"))
	}
	if c.Source == nil {
		errs = append(errs, errors.New("rediscache: Source is required"))
	}
	if c.Fallback == nil {
		errs = append(errs, errors.New("rediscache: Fallback is required"))
	}
	if c.Render == nil {
		errs = append(errs, errors.New("rediscache: Render is required"))
	}
	if c.TTL < 0 {
		errs = append(errs, errors.New("rediscache: TTL must not be negative"))
	}
	if c.BreakerCooldown < 0 {
		errs = append(errs, errors.New("rediscache: BreakerCooldown must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.BreakerCooldown == 0 {
		c.BreakerCooldown = DefaultBreakerCooldown
	}
	if c.LogEvery <= 0 {
		c.LogEvery = DefaultLogEvery
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Cache serves student documents from Redis. Safe for concurrent use.
type Cache struct {
	cfg Config
	log *slog.Logger

	// guard skips Redis for a moment after its errors (a circuit breaker).
	guard *redisguard.Guard

	// flights coalesces concurrent misses of one key: at exam start a
	// thousand students ask for the same new version at once, and one
	// render per replica is enough.
	mu      sync.Mutex
	flights map[string]*flight
}

type flight struct {
	done  chan struct{}
	doc   projections.StudentDoc
	found bool
	err   error
}

// New returns a cache.
func New(cfg Config) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("component", "rediscache")
	return &Cache{cfg: cfg, log: log, flights: map[string]*flight{},
		guard: redisguard.New(cfg.BreakerCooldown, cfg.LogEvery, cfg.Now, log, "rediscache: redis unavailable; serving from the read model")}, nil
}

// Key is the Redis key of an exam version's document.
func (c *Cache) Key(examID string, version int64) string {
	return c.cfg.Prefix + "sdoc:" + examID + ":" + strconv.FormatInt(version, 10)
}

// Get returns the student document of an exam at the version the read side
// reports. found is false for an exam that does not exist or is a draft.
func (c *Cache) Get(ctx context.Context, examID string) (projections.StudentDoc, bool, error) {
	version, found, err := c.cfg.Source.ExamHead(ctx, examID)
	if err != nil {
		if ctx.Err() != nil {
			return projections.StudentDoc{}, false, fmt.Errorf("rediscache: exam head %s: %w", examID, err)
		}
		// The read model is unreachable: the event store is the authority
		// anyway, and exam day must go on.
		c.log.Warn("rediscache: read model unavailable; loading from the event store", "exam", examID, "err", err)
		return c.fromFallback(ctx, examID)
	}
	if !found {
		return c.fromFallback(ctx, examID)
	}
	key := c.Key(examID, version)
	if doc, ok := c.lookup(ctx, key, version); ok {
		return doc, true, nil
	}
	return c.coalesce(ctx, key, func() (projections.StudentDoc, bool, error) {
		e, ok, err := c.cfg.Source.Exam(ctx, examID)
		if err != nil {
			return projections.StudentDoc{}, false, fmt.Errorf("rediscache: load exam %s: %w", examID, err)
		}
		if !ok || e.Status == domain.StatusDraft {
			// A read model that has the exam only as a draft may lag
			// behind its publication (a projector or Kafka is slow or
			// down): the event store decides whether students see it.
			return c.fromFallback(ctx, examID)
		}
		return c.renderAndStore(ctx, e)
	})
}

// fromFallback serves an exam the read model does not have (yet) from the
// event store. The document is still stored under the key of the version it
// was rendered from, so it is never served for another version.
func (c *Cache) fromFallback(ctx context.Context, examID string) (projections.StudentDoc, bool, error) {
	e, err := c.cfg.Fallback.LoadExam(ctx, examID)
	if err != nil {
		return projections.StudentDoc{}, false, fmt.Errorf("rediscache: load exam %s from the store: %w", examID, err)
	}
	if e == nil || !e.Exists() || e.Status == domain.StatusDraft {
		return projections.StudentDoc{}, false, nil
	}
	key := c.Key(examID, e.Version)
	if doc, ok := c.lookup(ctx, key, e.Version); ok {
		return doc, true, nil
	}
	return c.renderAndStore(ctx, e)
}

// renderAndStore renders e's student view and stores it under e's own
// version: the key always names the version the document was rendered from.
func (c *Cache) renderAndStore(ctx context.Context, e *domain.Exam) (projections.StudentDoc, bool, error) {
	if !e.Exists() || e.Status == domain.StatusDraft {
		return projections.StudentDoc{}, false, nil
	}
	doc, err := c.render(e)
	if err != nil {
		return projections.StudentDoc{}, false, err
	}
	if c.usable() {
		if val, ok := encode(doc); ok {
			if err := c.cfg.Client.Set(ctx, c.Key(e.ID, e.Version), val, c.cfg.TTL).Err(); err != nil {
				c.redisFailed(ctx, "set", err)
			}
		}
	}
	return doc, true, nil
}

func (c *Cache) render(e *domain.Exam) (projections.StudentDoc, error) {
	doc, err := projections.RenderStudentDoc(e, c.cfg.Render)
	if err != nil {
		return projections.StudentDoc{}, fmt.Errorf("rediscache: render exam %s: %w", e.ID, err)
	}
	return doc, nil
}

// lookup reads a key; false on a miss, a Redis error, an open breaker or a
// document that does not carry the key's version.
func (c *Cache) lookup(ctx context.Context, key string, version int64) (projections.StudentDoc, bool) {
	if !c.usable() {
		return projections.StudentDoc{}, false
	}
	val, err := c.cfg.Client.Get(ctx, key).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			c.redisFailed(ctx, "get", err)
		}
		return projections.StudentDoc{}, false
	}
	doc, ok := decode(val)
	if !ok || doc.Version != version {
		// Not ours or corrupted: render again and overwrite it.
		c.log.Warn("rediscache: undecodable or mismatched document ignored", "key", key)
		return projections.StudentDoc{}, false
	}
	return doc, true
}

// coalesce runs load once for concurrent callers of the same key. A
// follower whose ctx ends stops waiting; the leader's result is not
// affected by followers.
func (c *Cache) coalesce(ctx context.Context, key string, load func() (projections.StudentDoc, bool, error)) (projections.StudentDoc, bool, error) {
	c.mu.Lock()
	if f, ok := c.flights[key]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			if f.err != nil && ctx.Err() == nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
				return load() // the leader gave up, not the source
			}
			return f.doc, f.found, f.err
		case <-ctx.Done():
			return projections.StudentDoc{}, false, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	c.flights[key] = f
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.flights, key)
		c.mu.Unlock()
		close(f.done)
	}()
	f.doc, f.found, f.err = load()
	return f.doc, f.found, f.err
}

// usable reports whether the breaker lets requests through to Redis.
func (c *Cache) usable() bool { return c.guard.Usable() }

// redisFailed skips Redis for a moment and warns (rate-limited).
func (c *Cache) redisFailed(ctx context.Context, op string, err error) { c.guard.Failed(ctx, op, err) }

// The stored value: a one-line header the API can authorize with (version,
// status, level) and the JSON body after it.
//
//	sdoc1 <version> <status> <levelID>\n<body>
const magic = "sdoc1"

func encode(d projections.StudentDoc) ([]byte, bool) {
	if strings.ContainsAny(string(d.Status), " \n") || strings.ContainsAny(d.LevelID, " \n") || d.Status == "" {
		return nil, false // cannot be framed; serve it uncached
	}
	b := make([]byte, 0, len(d.Body)+64)
	b = append(b, magic...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, d.Version, 10)
	b = append(b, ' ')
	b = append(b, d.Status...)
	b = append(b, ' ')
	b = append(b, d.LevelID...)
	b = append(b, '\n')
	return append(b, d.Body...), true
}

func decode(val []byte) (projections.StudentDoc, bool) {
	nl := bytes.IndexByte(val, '\n')
	if nl < 0 {
		return projections.StudentDoc{}, false
	}
	// The level id may be empty, so the header has exactly four fields.
	fields := strings.SplitN(string(val[:nl]), " ", 4)
	if len(fields) != 4 || fields[0] != magic || fields[2] == "" {
		return projections.StudentDoc{}, false
	}
	v, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return projections.StudentDoc{}, false
	}
	return projections.StudentDoc{Body: val[nl+1:], Version: v, Status: domain.ExamStatus(fields[2]), LevelID: fields[3]}, true
}
