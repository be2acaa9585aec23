package api

import (
	"fmt"

	"github.com/examhall/exam/domain"
)

// DefaultMaxConcurrentImports is how many file imports a process runs at
// once unless configured: each may hold a few MiB of a workbook and keeps a
// core busy parsing it, so a handful at a time keeps the answers of an exam
// in progress fast while one account uploads file after file.
const DefaultMaxConcurrentImports = 4

// Admission caps concurrent work of one kind in this process. What exceeds
// it is refused at once (503 unavailable with Retry-After): never an
// unbounded queue of requests each holding its upload. The API and the web
// admin share one, so the cap holds whichever way the files come.
type Admission struct{ slots chan struct{} }

// NewAdmission admits n at once (DefaultMaxConcurrentImports when n ≤ 0).
func NewAdmission(n int) *Admission {
	if n <= 0 {
		n = DefaultMaxConcurrentImports
	}
	return &Admission{slots: make(chan struct{}, n)}
}

// Acquire takes a slot or fails with domain.ErrUnavailable; release returns it.
func (a *Admission) Acquire() (release func(), err error) {
	select {
	case a.slots <- struct{}{}:
		return func() { <-a.slots }, nil
	default:
		return nil, fmt.Errorf("%d imports already running: %w", cap(a.slots), domain.ErrUnavailable)
	}
}
