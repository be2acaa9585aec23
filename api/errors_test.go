package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/domain"
)

func TestWriteErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		err         error
		status      int
		code        string
		message     string // "" = don't check
		details     map[string]any
		retryAfter  string
		wwwAuth     bool
		logLevel    string // expected log level of the error line, "" = no line
		internalMsg string // must not appear in the response
	}{
		{name: "APIError as is", err: NewAPIError(http.StatusTeapot, "teapot", "short and stout"), status: 418, code: "teapot", message: "short and stout"},
		{name: "APIError with details", err: NewAPIError(400, "x", "y").WithDetails(map[string]any{"rows": []any{1.0}}), status: 400, code: "x", details: map[string]any{"rows": []any{1.0}}},
		{name: "wrapped APIError", err: fmt.Errorf("ctx: %w", NewAPIError(404, "not_found", "nope")), status: 404, code: "not_found", message: "nope"},
		{name: "validation error", err: &domain.ValidationError{Fields: map[string]string{"title": "required", "questions": "at least one"}}, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"title": "required", "questions": "at least one"}}},
		{name: "wrapped validation error", err: fmt.Errorf("create exam: %w", domain.NewValidationError(map[string]string{"level_id": "unknown level"})), status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"level_id": "unknown level"}}},
		{name: "rows error", err: fmt.Errorf("import: %w", &domain.RowsError{Rows: []domain.RowProblem{{Row: 3, Email: "x@y.z", Reason: "no user has this email"}}}),
			status: 400, code: "validation_failed", details: map[string]any{"fields": map[string]any{"file": "has invalid rows (details.rows lists them)"},
				"rows": []any{map[string]any{"row": 3.0, "email": "x@y.z", "reason": "no user has this email"}}}},
		{name: "bare ErrValidation", err: domain.ErrValidation, status: 400, code: "validation_failed", details: map[string]any{"fields": map[string]any{}}},
		{name: "invalid choice", err: fmt.Errorf("question q1 of exam e1: choice z: %w", domain.ErrInvalidChoice), status: 400, code: "invalid_choice", internalMsg: "question q1"},
		{name: "unauthenticated", err: domain.ErrUnauthenticated, status: 401, code: "unauthenticated", wwwAuth: true},
		{name: "invalid credentials", err: fmt.Errorf("user bob@example.com deactivated: %w", domain.ErrInvalidCredentials), status: 401, code: "invalid_credentials",
			message: "invalid email or password", internalMsg: "bob@example.com"},
		{name: "forbidden", err: domain.ErrForbidden, status: 403, code: "forbidden"},
		{name: "not found", err: fmt.Errorf("exam 1234: %w", domain.ErrNotFound), status: 404, code: "not_found", internalMsg: "1234"},
		{name: "email taken", err: domain.ErrEmailTaken, status: 409, code: "email_taken"},
		{name: "exam not editable", err: domain.ErrExamNotEditable, status: 409, code: "exam_not_editable"},
		{name: "exam not open", err: domain.ErrExamNotOpen, status: 409, code: "exam_not_open"},
		{name: "attempt submitted", err: domain.ErrAttemptSubmitted, status: 409, code: "attempt_submitted"},
		{name: "deadline passed", err: domain.ErrDeadlinePassed, status: 409, code: "deadline_passed"},
		{name: "not graded", err: domain.ErrNotGraded, status: 409, code: "not_graded"},
		{name: "conflict", err: fmt.Errorf("stream exam-1 at version 3, expected 2: %w", domain.ErrConflict), status: 409, code: "conflict", internalMsg: "exam-1"},
		{name: "idempotency key reused", err: domain.ErrIdempotencyKeyReused, status: 409, code: "idempotency_key_reused"},
		{name: "precondition failed", err: domain.ErrPreconditionFailed, status: 412, code: "precondition_failed"},
		{name: "rate limited rounds up", err: &domain.RateLimitedError{RetryAfter: 61500 * time.Millisecond}, status: 429, code: "rate_limited", retryAfter: "62"},
		{name: "rate limited at least one second", err: &domain.RateLimitedError{RetryAfter: 10 * time.Millisecond}, status: 429, code: "rate_limited", retryAfter: "1"},
		{name: "rate limited zero", err: fmt.Errorf("login: %w", &domain.RateLimitedError{}), status: 429, code: "rate_limited", retryAfter: "1"},
		{name: "bare ErrRateLimited", err: domain.ErrRateLimited, status: 429, code: "rate_limited", retryAfter: "1"},
		{name: "unavailable", err: fmt.Errorf("cassandra at 10.0.0.3: %w", domain.ErrUnavailable), status: 503, code: "unavailable", retryAfter: "1", logLevel: "WARN", internalMsg: "10.0.0.3"},
		{name: "deadline exceeded", err: fmt.Errorf("query: %w", context.DeadlineExceeded), status: 503, code: "unavailable", retryAfter: "1", logLevel: "WARN"},
		{name: "canceled", err: context.Canceled, status: 503, code: "unavailable", retryAfter: "1", logLevel: "WARN"},
		{name: "invalid token", err: fmt.Errorf("%w: signature is invalid", auth.ErrInvalidToken), status: 401, code: "unauthenticated", wwwAuth: true, internalMsg: "signature"},
		{name: "max bytes", err: &http.MaxBytesError{Limit: 10}, status: 413, code: "payload_too_large", details: map[string]any{"limit_bytes": float64(10)}},
		{name: "unknown error", err: errors.New("pq: password authentication failed for user exam"), status: 500, code: "internal",
			message: "internal server error", logLevel: "ERROR", internalMsg: "password authentication"},
		{name: "nil error", err: nil, status: 500, code: "internal", logLevel: "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &apiTestLogBuffer{}
			r := apiTestEngine(RequestID(), AccessLog(logs.logger()))
			r.GET("/x", func(c *gin.Context) { WriteError(c, tt.err) })
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			req.Header.Set(RequestIDHeader, "req-123")
			rec := apiTestDo(r, req)

			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Fatalf("Content-Type = %q", ct)
			}
			body := apiTestErrorBody(t, rec)
			if body.Code != tt.code {
				t.Fatalf("code = %q, want %q", body.Code, tt.code)
			}
			if body.Message == "" || (tt.message != "" && body.Message != tt.message) {
				t.Fatalf("message = %q, want %q", body.Message, tt.message)
			}
			if !reflect.DeepEqual(body.Details, tt.details) {
				t.Fatalf("details = %#v, want %#v", body.Details, tt.details)
			}
			if tt.details == nil && strings.Contains(rec.Body.String(), `"details"`) {
				t.Fatalf("details must be omitted when empty: %s", rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Fatalf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if got := rec.Header().Get("WWW-Authenticate") != ""; got != tt.wwwAuth {
				t.Fatalf("WWW-Authenticate present = %v, want %v", got, tt.wwwAuth)
			}
			if tt.internalMsg != "" && strings.Contains(rec.Body.String(), tt.internalMsg) {
				t.Fatalf("response leaks %q: %s", tt.internalMsg, rec.Body)
			}

			lines := logs.lines(t)
			var errLine map[string]any
			for _, l := range lines {
				if l["msg"] != "http request" {
					errLine = l
				}
			}
			if tt.logLevel == "" {
				if errLine != nil {
					t.Fatalf("unexpected error log line %v", errLine)
				}
				return
			}
			if errLine == nil {
				t.Fatalf("no error log line; logs %v", lines)
			}
			if errLine["level"] != tt.logLevel || errLine["request_id"] != "req-123" || errLine["route"] != "/x" {
				t.Fatalf("error log line = %v", errLine)
			}
			if tt.err != nil && errLine["error"] != tt.err.Error() {
				t.Fatalf("log must carry the real error, got %v", errLine["error"])
			}
		})
	}
}

// Without AccessLog, the internal error goes to slog.Default(); it must
// still not reach the client.
func TestWriteErrorWithoutLoggerMiddleware(t *testing.T) {
	t.Parallel()
	r := apiTestEngine()
	r.GET("/x", func(c *gin.Context) { WriteError(c, errors.New("secret internals")) })
	rec := apiTestDo(r, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

func TestAbortStopsChain(t *testing.T) {
	t.Parallel()
	r := apiTestEngine(func(c *gin.Context) { Abort(c, domain.ErrForbidden) })
	called := false
	r.GET("/x", func(c *gin.Context) { called = true })
	rec := apiTestDo(r, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != 403 || called {
		t.Fatalf("status %d, handler called %v", rec.Code, called)
	}
}

func TestWriteErrorAfterResponseStarted(t *testing.T) {
	t.Parallel()
	r := apiTestEngine()
	r.GET("/x", func(c *gin.Context) {
		c.String(http.StatusOK, "partial")
		WriteError(c, domain.ErrNotFound)
	})
	rec := apiTestDo(r, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != 200 || rec.Body.String() != "partial" {
		t.Fatalf("got %d %q", rec.Code, rec.Body)
	}
}

func TestErrorFor(t *testing.T) {
	t.Parallel()
	if e, ok := ErrorFor(domain.ErrNotFound); !ok || e.Status != 404 {
		t.Fatalf("ErrorFor(ErrNotFound) = %+v, %v", e, ok)
	}
	if e, ok := ErrorFor(errors.New("boom")); ok || e.Status != 500 || e.Code != "internal" {
		t.Fatalf("ErrorFor(unknown) = %+v, %v", e, ok)
	}
	// An error matching two sentinels takes the first row.
	joined := errors.Join(domain.ErrNotFound, domain.ErrForbidden)
	if e, _ := ErrorFor(joined); e.Code != "forbidden" {
		t.Fatalf("joined error code = %q, want forbidden (earlier row)", e.Code)
	}
	e := NewAPIError(400, "c", "m")
	if e.Error() != "c: m" {
		t.Fatalf("Error() = %q", e.Error())
	}
	d := e.WithDetails(map[string]any{"k": 1})
	if e.Details != nil || d.Details["k"] != 1 {
		t.Fatal("WithDetails must copy")
	}
	if _, err := json.Marshal(errorBody{Error: errorPayload{Code: "x"}}); err != nil {
		t.Fatal(err)
	}
}
