package auth

import (
	"context"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
)

// LoginAdmission decides which logins get to hash a password, and in what
// order, when there are more than the cores can hash. Password hashing is
// the expensive part of a login (argon2id, tens of milliseconds of a core),
// so a flood of failing logins — 100 clients trying unknown emails from the
// school's one NAT address — used to queue every login behind it: a real
// login took 3–6 s.
//
// Two lanes share Slots hashing slots. A freed slot goes to the priority
// lane first: logins for an existing account that is not locked (the caller
// decides; see commands.LoginHandler). Everything else — unknown emails
// above all — waits in the general lane. Each lane's queue is bounded, and a
// wait is bounded (MaxWait): past either bound the login is answered at once
// with 429 rate_limited and Retry-After, never left in an unbounded queue.
// So a priority login waits at most for the slots in use to free (one hash)
// plus the priority logins ahead of it, however large the flood.
//
// The trade-off, documented in docs/operations.md: while the general lane is
// overflowing, a login for an unknown email is more likely to get 429 than
// one for an existing account, which tells an attacker that floods the
// platform which emails exist. Without a flood nothing differs.
type LoginAdmission struct {
	cfg AdmissionConfig

	mu    sync.Mutex
	free  int
	lanes [2][]*admissionWaiter // [0] priority, [1] general; FIFO
}

// AdmissionConfig configures NewLoginAdmission; zero values take defaults.
type AdmissionConfig struct {
	// Slots is how many logins hash at once (default 2; the platform
	// uses the number of CPUs).
	Slots int
	// MaxPriorityQueue and MaxGeneralQueue bound the waiting logins of each
	// lane (defaults 256 and 4 per slot).
	MaxPriorityQueue, MaxGeneralQueue int
	// MaxWait bounds how long a login waits for a slot (default 1s).
	MaxWait time.Duration
}

type admissionWaiter struct {
	granted chan struct{}
	done    bool // granted or gone; under mu
}

// NewLoginAdmission returns an admission with cfg's bounds.
func NewLoginAdmission(cfg AdmissionConfig) *LoginAdmission {
	if cfg.Slots <= 0 {
		cfg.Slots = 2
	}
	if cfg.MaxPriorityQueue <= 0 {
		cfg.MaxPriorityQueue = 256
	}
	if cfg.MaxGeneralQueue <= 0 {
		cfg.MaxGeneralQueue = 4 * cfg.Slots
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = time.Second
	}
	return &LoginAdmission{cfg: cfg, free: cfg.Slots}
}

// Admit waits for a hashing slot in the priority or the general lane.
// release must be called when the hash is done. Past the lane's queue or
// MaxWait it returns a *domain.RateLimitedError.
func (a *LoginAdmission) Admit(ctx context.Context, priority bool) (release func(), err error) {
	lane := 1
	if priority {
		lane = 0
	}
	a.mu.Lock()
	// A free slot is taken at once, unless priority logins wait for it.
	if a.free > 0 && (lane == 0 || len(a.lanes[0]) == 0) {
		a.free--
		a.mu.Unlock()
		return a.release, nil
	}
	limit := a.cfg.MaxGeneralQueue
	if lane == 0 {
		limit = a.cfg.MaxPriorityQueue
	}
	if len(a.lanes[lane]) >= limit {
		a.mu.Unlock()
		return nil, &domain.RateLimitedError{RetryAfter: time.Second}
	}
	w := &admissionWaiter{granted: make(chan struct{})}
	a.lanes[lane] = append(a.lanes[lane], w)
	a.mu.Unlock()

	timer := time.NewTimer(a.cfg.MaxWait)
	defer timer.Stop()
	select {
	case <-w.granted:
		return a.release, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if w.done { // granted while timing out: keep the slot
		return a.release, nil
	}
	w.done = true
	q := a.lanes[lane]
	for i, x := range q {
		if x == w {
			a.lanes[lane] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, &domain.RateLimitedError{RetryAfter: time.Second}
}

// release hands the slot to the first priority waiter, else the first
// general one, else frees it.
func (a *LoginAdmission) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for lane := range a.lanes {
		for len(a.lanes[lane]) > 0 {
			w := a.lanes[lane][0]
			a.lanes[lane] = a.lanes[lane][1:]
			if !w.done {
				w.done = true
				close(w.granted)
				return
			}
		}
	}
	a.free++
}

// Queued reports the waiting logins of each lane (priority, general).
func (a *LoginAdmission) Queued() (priority, general int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.lanes[0]), len(a.lanes[1])
}
