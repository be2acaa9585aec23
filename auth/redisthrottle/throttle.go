// Package redisthrottle is the login throttle of the distributed mode: the
// failure counts of auth.LoginThrottle kept in Redis, so every API replica
// sees the same count and the limit does not grow with the replica count.
//
// It has auth.MemoryLoginThrottle's semantics exactly (per account, never
// per IP; MaxFailures consecutive failures lock for Lockout, doubling per
// further failure up to MaxLockout; failures forgotten Window after the
// later of the last failure and the end of the lock; success forgets).
//
// When Redis is unreachable the throttle falls back to a MemoryLoginThrottle
// of the replica: each replica then counts on its own, so an attacker gets
// MaxFailures per replica instead of MaxFailures in all. That is the chosen
// trade: on exam day a thousand students log in within minutes, and an
// outage of the cache must not turn into nobody being able to log in (nor
// into no throttle at all).
package redisthrottle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/internal/redisguard"
	"github.com/redis/go-redis/v9"
)

// Defaults applied by New.
const (
	DefaultBreakerCooldown = time.Second
	DefaultLogEvery        = 10 * time.Second
)

// Config configures New. Client is required.
type Config struct {
	Client redis.UniversalClient
	// Prefix starts every key (e.g. "exam:").
	Prefix string
	// Limits are the throttle's limits and clock, with auth's defaults for
	// zero fields; MaxEntries only bounds the fallback.
	Limits auth.ThrottleConfig
	// Fallback counts while Redis is unreachable (default: a
	// MemoryLoginThrottle with Limits).
	Fallback *auth.MemoryLoginThrottle
	// BreakerCooldown is how long Redis is skipped after one of its errors
	// (default 1s), so a dead Redis adds no timeout to each login.
	BreakerCooldown time.Duration
	// LogEvery rate-limits the Redis warnings (default 10s).
	LogEvery time.Duration
	Logger   *slog.Logger
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("redisthrottle: Client is required"))
	}
	l := c.Limits
	if l.MaxFailures < 0 || l.Window < 0 || l.Lockout < 0 || l.MaxLockout < 0 {
		errs = append(errs, errors.New("redisthrottle: limits must not be negative"))
	}
	if c.BreakerCooldown < 0 {
		errs = append(errs, errors.New("redisthrottle: BreakerCooldown must not be negative"))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	l := &c.Limits
	if l.MaxFailures <= 0 {
		l.MaxFailures = auth.DefaultThrottleMaxFailures
	}
	if l.Window <= 0 {
		l.Window = auth.DefaultThrottleWindow
	}
	if l.Lockout <= 0 {
		l.Lockout = auth.DefaultThrottleLockout
	}
	if l.MaxLockout <= 0 {
		l.MaxLockout = auth.DefaultThrottleMaxLockout
	}
	if l.MaxLockout < l.Lockout {
		l.MaxLockout = l.Lockout
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	if c.Fallback == nil {
		c.Fallback = auth.NewMemoryLoginThrottle(c.Limits)
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
	return c
}

// Throttle is a LoginThrottle shared through Redis. Safe for concurrent use.
type Throttle struct {
	cfg   Config
	log   *slog.Logger
	guard *redisguard.Guard // skips Redis for a moment after its errors
}

var _ auth.LoginThrottle = (*Throttle)(nil)

// New returns a throttle.
func New(cfg Config) (*Throttle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("component", "redisthrottle")
	return &Throttle{cfg: cfg, log: log,
		guard: redisguard.New(cfg.BreakerCooldown, cfg.LogEvery, nil, log, "redisthrottle: redis unavailable; counting failed logins on this replica only")}, nil
}

// Key is the Redis key of an account: a hash of the normalised email, so
// addresses do not appear in Redis (KEYS, MONITOR, dumps).
func (t *Throttle) Key(account string) string {
	sum := sha256.Sum256([]byte(auth.NormalizeAccount(account)))
	return t.cfg.Prefix + "login:" + hex.EncodeToString(sum[:16])
}

// failScript records one failure atomically: the whole read-decide-write of
// MemoryLoginThrottle.Failed runs in Redis, so failures racing on several
// replicas are all counted. Times are microseconds (exact in Lua's
// doubles); the key's TTL only collects garbage — expiry of the history is
// decided from the stored times, with the caller's clock.
//
// KEYS[1] account; ARGV: now, max failures, lockout, max lockout, window.
// Hash fields: f failures, l last failure, u locked until. Returns u.
var failScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local maxf = tonumber(ARGV[2])
local lock = tonumber(ARGV[3])
local maxlock = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'f', 'l', 'u')
local f = tonumber(v[1]) or 0
local last = tonumber(v[2]) or 0
local locked = tonumber(v[3]) or 0
if f > 0 and now - math.max(last, locked) >= window then
  f = 0
  locked = 0
end
f = f + 1
last = now
if f >= maxf then
  local d = lock
  local i = 0
  while i < f - maxf and d < maxlock do
    d = d * 2
    i = i + 1
  end
  if d > maxlock then d = maxlock end
  locked = now + d
end
redis.call('HSET', KEYS[1], 'f', string.format('%.0f', f), 'l', string.format('%.0f', last), 'u', string.format('%.0f', locked))
local ttl = math.max(last, locked) - now + window
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(ttl / 1000) + 1000))
return string.format('%.0f', locked)
`)

func micros(d time.Duration) int64 { return int64(d / time.Microsecond) }

// Check implements auth.LoginThrottle. Failures the replica counted on its
// own during a Redis outage still count: they happened.
func (t *Throttle) Check(ctx context.Context, account string) error {
	if err := t.cfg.Fallback.Check(ctx, account); err != nil {
		return err
	}
	if !t.usable() {
		return nil
	}
	now := t.cfg.Limits.Now()
	s, err := t.cfg.Client.HGet(ctx, t.Key(account), "u").Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		t.redisFailed(ctx, "check", err)
		return nil // the fallback already said no lock
	}
	until, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.log.Error("redisthrottle: bad lock time ignored", "key", t.Key(account), "err", err)
		return nil
	}
	if left := time.Duration(until-now.UnixMicro()) * time.Microsecond; left > 0 {
		return &domain.RateLimitedError{RetryAfter: left}
	}
	return nil
}

// Failed implements auth.LoginThrottle.
func (t *Throttle) Failed(ctx context.Context, account string) {
	if t.usable() {
		l := t.cfg.Limits
		err := failScript.Run(ctx, t.cfg.Client, []string{t.Key(account)}, l.Now().UnixMicro(), l.MaxFailures,
			micros(l.Lockout), micros(l.MaxLockout), micros(l.Window)).Err()
		if err == nil {
			return
		}
		t.redisFailed(ctx, "failed", err)
	}
	t.cfg.Fallback.Failed(ctx, account)
}

// Succeeded implements auth.LoginThrottle: it forgets the account both in
// Redis and in the replica's fallback.
func (t *Throttle) Succeeded(ctx context.Context, account string) {
	t.cfg.Fallback.Succeeded(ctx, account)
	if !t.usable() {
		return
	}
	if err := t.cfg.Client.Del(ctx, t.Key(account)).Err(); err != nil {
		t.redisFailed(ctx, "succeeded", err)
	}
}

func (t *Throttle) usable() bool { return t.guard.Usable() }

// redisFailed skips Redis for a moment and warns (rate-limited).
func (t *Throttle) redisFailed(ctx context.Context, op string, err error) {
	t.guard.Failed(ctx, op, err)
}
