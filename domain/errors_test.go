package domain

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestValidationError(t *testing.T) {
	if err := NewValidationError(nil); err != nil {
		t.Fatalf("no fields gave %v", err)
	}
	if err := NewValidationError(map[string]string{}); err != nil {
		t.Fatalf("empty fields gave %v", err)
	}
	err := fmt.Errorf("wrapped: %w", NewValidationError(map[string]string{"title": "is required", "level_id": "is required"}))
	if !errors.Is(err, ErrValidation) {
		t.Fatal("a wrapped ValidationError does not match ErrValidation")
	}
	if errors.Is(err, ErrNotFound) {
		t.Fatal("a ValidationError matches ErrNotFound")
	}
	if got, want := err.Error(), "wrapped: validation failed: level_id: is required; title: is required"; got != want {
		t.Fatalf("message = %q, want %q (fields sorted)", got, want)
	}
}

func TestRateLimitedError(t *testing.T) {
	err := fmt.Errorf("login: %w", &RateLimitedError{RetryAfter: 2400 * time.Millisecond})
	if !errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("errors.Is mismatch for %v", err)
	}
	var rl *RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2400*time.Millisecond {
		t.Fatal("errors.As does not find the retry delay")
	}
	if got, want := err.Error(), "login: too many attempts, retry after 2s"; got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
}

func TestSentinelErrorsAreDistinct(t *testing.T) {
	all := []error{ErrNotFound, ErrForbidden, ErrUnauthenticated, ErrInvalidCredentials, ErrValidation, ErrInvalidChoice,
		ErrEmailTaken, ErrExamNotEditable, ErrExamNotOpen, ErrAttemptSubmitted, ErrDeadlinePassed, ErrNotGraded,
		ErrConflict, ErrPreconditionFailed, ErrIdempotencyKeyReused, ErrRateLimited, ErrUnavailable, ErrUnknownEventType}
	for i, a := range all {
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v matches %v", a, b)
			}
		}
	}
}
