// Package domain holds the exam platform's aggregates (Exam, Attempt, User,
// Session), their events with explicit versioned type names, and the rules:
// who may do what, when answers are accepted, and how answers are scored.
//
// It is pure Go: it imports only the standard library (a test enforces it).
// Decisions are plain functions and methods that take the folded state, the
// actor, the input and the current time, and return the events to append;
// Apply methods fold stored events back into state.
package domain
