package auth

import (
	"container/list"
	"context"
	"strings"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
)

// LoginThrottle limits password guessing per account. It is keyed by account
// (normalised email), never by client IP: a whole school sits behind one NAT
// address, and blocking it would lock every student out at exam start.
//
// Use: Check before verifying the password (reject while locked), then
// Failed or Succeeded with the outcome. Call Failed for unknown accounts too,
// so the throttle behaves the same whether or not the email exists.
type LoginThrottle interface {
	// Check returns a *domain.RateLimitedError while the account is locked.
	Check(ctx context.Context, account string) error
	// Failed records a failed login attempt.
	Failed(ctx context.Context, account string)
	// Succeeded forgets the account's failures.
	Succeeded(ctx context.Context, account string)
}

// NormalizeAccount is the throttle key of an email: trimmed and lower-cased.
func NormalizeAccount(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// ThrottleConfig configures NewMemoryLoginThrottle. Zero values take the
// defaults shown.
type ThrottleConfig struct {
	// MaxFailures is the number of consecutive failures that locks the
	// account (default 5).
	MaxFailures int
	// Window is how long failures are remembered: the count resets when no
	// failure happened for Window after the later of the last failure and
	// the end of the last lockout (default 15m).
	Window time.Duration
	// Lockout is the first lock duration (default 1m); each further failure
	// after the account was locked doubles it, up to MaxLockout (default 15m).
	Lockout    time.Duration
	MaxLockout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// MaxEntries bounds memory: when full, the least recently failed
	// account is forgotten (default 100000).
	MaxEntries int
}

// Throttle defaults.
const (
	DefaultThrottleMaxFailures = 5
	DefaultThrottleWindow      = 15 * time.Minute
	DefaultThrottleLockout     = time.Minute
	DefaultThrottleMaxLockout  = 15 * time.Minute
	DefaultThrottleMaxEntries  = 100_000
)

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	if c.MaxFailures <= 0 {
		c.MaxFailures = DefaultThrottleMaxFailures
	}
	if c.Window <= 0 {
		c.Window = DefaultThrottleWindow
	}
	if c.Lockout <= 0 {
		c.Lockout = DefaultThrottleLockout
	}
	if c.MaxLockout <= 0 {
		c.MaxLockout = DefaultThrottleMaxLockout
	}
	if c.MaxLockout < c.Lockout {
		c.MaxLockout = c.Lockout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultThrottleMaxEntries
	}
	return c
}

// MemoryLoginThrottle is an in-process LoginThrottle. With several API
// instances each keeps its own counts, so the effective limit is multiplied
// by the instance count; a shared implementation can replace it behind the
// interface. Safe for concurrent use.
type MemoryLoginThrottle struct {
	cfg     ThrottleConfig
	mu      sync.Mutex
	entries map[string]*list.Element // of *throttleEntry
	lru     *list.List               // front = most recently failed
}

type throttleEntry struct {
	account     string
	failures    int
	lastFailure time.Time
	lockedUntil time.Time
}

var _ LoginThrottle = (*MemoryLoginThrottle)(nil)

// NewMemoryLoginThrottle returns an in-memory throttle.
func NewMemoryLoginThrottle(cfg ThrottleConfig) *MemoryLoginThrottle {
	return &MemoryLoginThrottle{
		cfg:     cfg.withDefaults(),
		entries: make(map[string]*list.Element),
		lru:     list.New(),
	}
}

// Check implements LoginThrottle.
func (t *MemoryLoginThrottle) Check(_ context.Context, account string) error {
	key := NormalizeAccount(account)
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.entries[key]
	if !ok {
		return nil
	}
	e := el.Value.(*throttleEntry)
	if now.Before(e.lockedUntil) {
		return &domain.RateLimitedError{RetryAfter: e.lockedUntil.Sub(now)}
	}
	return nil
}

// Failed implements LoginThrottle.
func (t *MemoryLoginThrottle) Failed(_ context.Context, account string) {
	key := NormalizeAccount(account)
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var e *throttleEntry
	if el, ok := t.entries[key]; ok {
		e = el.Value.(*throttleEntry)
		t.lru.MoveToFront(el)
		if t.expired(e, now) {
			*e = throttleEntry{account: key}
		}
	} else {
		t.evict(now)
		e = &throttleEntry{account: key}
		t.entries[key] = t.lru.PushFront(e)
	}
	e.failures++
	e.lastFailure = now
	if over := e.failures - t.cfg.MaxFailures; over >= 0 {
		e.lockedUntil = now.Add(t.lockout(over))
	}
}

// Succeeded implements LoginThrottle.
func (t *MemoryLoginThrottle) Succeeded(_ context.Context, account string) {
	key := NormalizeAccount(account)
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.entries[key]; ok {
		t.lru.Remove(el)
		delete(t.entries, key)
	}
}

// Len is the number of accounts currently remembered.
func (t *MemoryLoginThrottle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

// lockout is Lockout * 2^over, capped at MaxLockout.
func (t *MemoryLoginThrottle) lockout(over int) time.Duration {
	d := t.cfg.Lockout
	for i := 0; i < over && d < t.cfg.MaxLockout; i++ {
		d *= 2
	}
	return min(d, t.cfg.MaxLockout)
}

// expired reports whether the entry's failures are old enough to forget.
func (t *MemoryLoginThrottle) expired(e *throttleEntry, now time.Time) bool {
	last := e.lastFailure
	if e.lockedUntil.After(last) {
		last = e.lockedUntil
	}
	return now.Sub(last) >= t.cfg.Window
}

// evict makes room for one entry: expired entries at the back go first, then
// the least recently failed one if still full.
func (t *MemoryLoginThrottle) evict(now time.Time) {
	for back := t.lru.Back(); back != nil && t.expired(back.Value.(*throttleEntry), now); back = t.lru.Back() {
		t.remove(back)
	}
	for len(t.entries) >= t.cfg.MaxEntries {
		t.remove(t.lru.Back())
	}
}

func (t *MemoryLoginThrottle) remove(el *list.Element) {
	delete(t.entries, el.Value.(*throttleEntry).account)
	t.lru.Remove(el)
}
