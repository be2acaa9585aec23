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

// admission caps concurrent work of one kind in this process. What exceeds
// it is refused at once (503 unavailable with Retry-After): never an
// unbounded queue of requests each holding its upload.
type admission struct{ slots chan struct{} }

func newAdmission(n int) *admission { return &admission{slots: make(chan struct{}, n)} }

// acquire takes a slot or fails with domain.ErrUnavailable; release returns it.
func (a *admission) acquire() (release func(), err error) {
	select {
	case a.slots <- struct{}{}:
		return func() { <-a.slots }, nil
	default:
		return nil, fmt.Errorf("%d imports already running: %w", cap(a.slots), domain.ErrUnavailable)
	}
}
