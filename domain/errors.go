package domain

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Sentinel errors for the conditions callers branch on. The HTTP layer maps
// each to one status and error code (api/errors.go); wrap them with %w.
var (
	ErrNotFound             = errors.New("not found")
	ErrForbidden            = errors.New("forbidden")
	ErrUnauthenticated      = errors.New("unauthenticated")
	ErrInvalidCredentials   = errors.New("invalid email or password")
	ErrValidation           = errors.New("validation failed")
	ErrInvalidChoice        = errors.New("invalid choice")
	ErrEmailTaken           = errors.New("email already taken")
	ErrExamNotEditable      = errors.New("exam is not a draft")
	ErrExamNotOpen          = errors.New("exam is not open")
	ErrAttemptSubmitted     = errors.New("attempt already submitted")
	ErrDeadlinePassed       = errors.New("deadline passed")
	ErrNotGraded            = errors.New("exam not graded yet")
	ErrConflict             = errors.New("conflicting concurrent change")
	ErrPreconditionFailed   = errors.New("version precondition failed")
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")
	ErrRateLimited          = errors.New("too many attempts")
	ErrUnavailable          = errors.New("temporarily unavailable")
	// ErrUnsupportedMediaType: content of a type the platform does not
	// take (an upload that is not an image of an accepted type).
	ErrUnsupportedMediaType = errors.New("unsupported media type")
)

// ValidationError lists every invalid field with a reason. It matches
// ErrValidation with errors.Is.
type ValidationError struct {
	Fields map[string]string
}

// NewValidationError returns nil when fields is empty, so callers can collect
// problems and return the result directly.
func NewValidationError(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: fields}
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrValidation) true.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

// RateLimitedError tells how long to wait. It matches ErrRateLimited.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many attempts, retry after %s", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }
