package api

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/examhall/exam/api/idempotency"
	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/internal/safezip"
)

// APIError is an error with its HTTP representation. Handlers may return or
// pass one to WriteError directly; everything else is mapped by WriteError.
// Message is shown to clients: keep it free of internals.
type APIError struct {
	Status  int
	Code    string
	Message string
	Details map[string]any

	retryAfter time.Duration // > 0: send Retry-After
}

// NewAPIError returns an APIError without details.
func NewAPIError(status int, code, msg string) *APIError {
	return &APIError{Status: status, Code: code, Message: msg}
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// WithDetails returns a copy of e carrying details.
func (e *APIError) WithDetails(details map[string]any) *APIError {
	c := *e
	c.Details = details
	return &c
}

// errorBody is the contract's error shape:
// {"error": {"code": "...", "message": "...", "details": {...}}}.
type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// Public messages per code. Fixed strings: wrapped domain errors may carry
// ids or storage details that must not reach clients.
const (
	msgValidation    = "the request is invalid"
	msgInternal      = "internal server error"
	msgUnavailable   = "the service is temporarily unavailable, retry later"
	msgUnauth        = "authentication is required"
	msgRateLimited   = "too many attempts, retry later"
	msgTooLarge      = "the request or the file in it is too large"
	msgInvalidCredit = "invalid email or password"
)

// sentinelErrors maps each domain sentinel to its response, in the order
// errors.Is checks them.
var sentinelErrors = []struct {
	err    error
	status int
	code   string
	msg    string
}{
	{domain.ErrInvalidChoice, http.StatusBadRequest, "invalid_choice", "one or more choices are not options of the question"},
	{domain.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated", msgUnauth},
	{domain.ErrInvalidCredentials, http.StatusUnauthorized, "invalid_credentials", msgInvalidCredit},
	{domain.ErrForbidden, http.StatusForbidden, "forbidden", "you are not allowed to do this"},
	{domain.ErrNotFound, http.StatusNotFound, "not_found", "resource not found"},
	{domain.ErrEmailTaken, http.StatusConflict, "email_taken", "a user with this email already exists"},
	{domain.ErrExamNotEditable, http.StatusConflict, "exam_not_editable", "the exam can only be changed while it is a draft"},
	{domain.ErrExamNotOpen, http.StatusConflict, "exam_not_open", "the exam is not open"},
	{domain.ErrAttemptSubmitted, http.StatusConflict, "attempt_submitted", "the attempt has already been submitted"},
	{domain.ErrDeadlinePassed, http.StatusConflict, "deadline_passed", "the deadline has passed"},
	{domain.ErrNotGraded, http.StatusConflict, "not_graded", "the exam has not been graded yet"},
	{domain.ErrConflict, http.StatusConflict, "conflict", "the resource was changed concurrently, reload and retry"},
	{domain.ErrIdempotencyKeyReused, http.StatusConflict, "idempotency_key_reused", "the idempotency key was already used with a different request"},
	{domain.ErrPreconditionFailed, http.StatusPreconditionFailed, "precondition_failed", "the resource version does not match If-Match"},
	{domain.ErrUnsupportedMediaType, http.StatusUnsupportedMediaType, "unsupported_media_type", "the file is not of a type this endpoint accepts"},
}

// ErrorFor maps err to its APIError, the one mapping from errors to HTTP
// (see WriteError for the table). It never returns nil; the second result is
// false when err is unknown (an internal error, 500).
func ErrorFor(err error) (*APIError, bool) {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr, true
	}
	var rows *domain.RowsError
	if errors.As(err, &rows) {
		e := validationFailed(map[string]string{"file": "has invalid rows (details.rows lists them)"})
		e.Details["rows"] = rows.Rows
		return e, true
	}
	var verr *domain.ValidationError
	if errors.As(err, &verr) {
		return validationFailed(verr.Fields), true
	}
	if errors.Is(err, domain.ErrValidation) {
		return validationFailed(nil), true
	}
	for _, s := range sentinelErrors {
		if errors.Is(err, s.err) {
			return NewAPIError(s.status, s.code, s.msg), true
		}
	}
	var rl *domain.RateLimitedError
	if errors.As(err, &rl) {
		e := NewAPIError(http.StatusTooManyRequests, "rate_limited", msgRateLimited)
		e.retryAfter = rl.RetryAfter
		return e, true
	}
	if errors.Is(err, domain.ErrRateLimited) {
		e := NewAPIError(http.StatusTooManyRequests, "rate_limited", msgRateLimited)
		e.retryAfter = time.Second
		return e, true
	}
	if errors.Is(err, auth.ErrInvalidToken) {
		return NewAPIError(http.StatusUnauthorized, "unauthenticated", msgUnauth), true
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return payloadTooLarge(tooLarge.Limit), true
	}
	if errors.Is(err, safezip.ErrTooLarge) {
		return payloadTooLarge(safezip.UploadLimits.MaxTotalBytes), true
	}
	if errors.Is(err, idempotency.ErrKeyTooLong) {
		return validationFailed(map[string]string{"Idempotency-Key": "must be at most 200 characters"}), true
	}
	if errors.Is(err, idempotency.ErrUnreadableBody) {
		return NewAPIError(http.StatusBadRequest, "invalid_json", "could not read the request body"), true
	}
	if errors.Is(err, domain.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		e := NewAPIError(http.StatusServiceUnavailable, "unavailable", msgUnavailable)
		e.retryAfter = time.Second
		return e, true
	}
	return NewAPIError(http.StatusInternalServerError, "internal", msgInternal), false
}

// payloadTooLarge is the one 413: the body, the file in it, or what the
// file unpacks to is over limit bytes (details.limit_bytes when known).
func payloadTooLarge(limit int64) *APIError {
	e := NewAPIError(http.StatusRequestEntityTooLarge, "payload_too_large", msgTooLarge)
	if limit > 0 {
		e = e.WithDetails(map[string]any{"limit_bytes": limit})
	}
	return e
}

// validationFailed is 400 validation_failed with details {"fields": {...}}
// (always an object, possibly empty).
func validationFailed(fields map[string]string) *APIError {
	if fields == nil {
		fields = map[string]string{}
	}
	return NewAPIError(http.StatusBadRequest, "validation_failed", msgValidation).
		WithDetails(map[string]any{"fields": fields})
}

// WriteError writes err as {"error":{"code","message","details"?}} with its
// status. The mapping (errors.Is / errors.As, first match wins):
//
//	*APIError                      its own status and code
//	*domain.RowsError              400 validation_failed, details {"fields": {"file": "has invalid rows …"},
//	                               "rows": [{"row", "email", "reason"}, ...]}
//	*domain.ValidationError        400 validation_failed, details {"fields": {...}}
//	domain.ErrValidation           400 validation_failed, details {"fields": {}}
//	domain.ErrInvalidChoice        400 invalid_choice
//	domain.ErrUnauthenticated      401 unauthenticated
//	domain.ErrInvalidCredentials   401 invalid_credentials (always the same message)
//	domain.ErrForbidden            403 forbidden
//	domain.ErrNotFound             404 not_found
//	domain.ErrEmailTaken           409 email_taken
//	domain.ErrExamNotEditable      409 exam_not_editable
//	domain.ErrExamNotOpen          409 exam_not_open
//	domain.ErrAttemptSubmitted     409 attempt_submitted
//	domain.ErrDeadlinePassed       409 deadline_passed
//	domain.ErrNotGraded            409 not_graded
//	domain.ErrConflict             409 conflict
//	domain.ErrIdempotencyKeyReused 409 idempotency_key_reused
//	domain.ErrPreconditionFailed   412 precondition_failed
//	domain.ErrUnsupportedMediaType 415 unsupported_media_type
//	*domain.RateLimitedError       429 rate_limited, Retry-After: ceil(seconds), at least 1
//	domain.ErrRateLimited          429 rate_limited, Retry-After: 1
//	auth.ErrInvalidToken           401 unauthenticated
//	*http.MaxBytesError,
//	safezip.ErrTooLarge            413 payload_too_large, details {"limit_bytes"}
//	idempotency.ErrKeyTooLong      400 validation_failed {"Idempotency-Key"}
//	idempotency.ErrUnreadableBody  400 invalid_json
//	domain.ErrUnavailable,
//	context.DeadlineExceeded,
//	context.Canceled               503 unavailable, Retry-After: 1 (logged at warn)
//	anything else                  500 internal, generic message; the error is
//	                               logged at error level with the request id
//
// 401 unauthenticated also gets "WWW-Authenticate: Bearer". Messages are
// fixed per code, never err.Error(). If the response was already started,
// WriteError only logs.
func WriteError(c *gin.Context, err error) {
	if err == nil {
		err = errors.New("api: WriteError called with a nil error")
	}
	apiErr, known := ErrorFor(err)
	switch {
	case !known:
		errorLogger(c).LogAttrs(c.Request.Context(), slog.LevelError, "internal error",
			requestLogAttrs(c, slog.String("error", err.Error()))...)
	case apiErr.Status >= 500:
		errorLogger(c).LogAttrs(c.Request.Context(), slog.LevelWarn, "request failed",
			requestLogAttrs(c, slog.Int("status", apiErr.Status), slog.String("error", err.Error()))...)
	}
	writeAPIError(c, apiErr)
}

// Abort is WriteError followed by c.Abort(): use it in middleware.
func Abort(c *gin.Context, err error) {
	WriteError(c, err)
	c.Abort()
}

func writeAPIError(c *gin.Context, e *APIError) {
	if c.Writer.Written() {
		errorLogger(c).LogAttrs(c.Request.Context(), slog.LevelWarn, "error after response started",
			requestLogAttrs(c, slog.String("code", e.Code))...)
		return
	}
	if e.retryAfter > 0 || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests {
		c.Header("Retry-After", retryAfterSeconds(e.retryAfter))
	}
	if e.Status == http.StatusUnauthorized && e.Code == "unauthenticated" {
		c.Header("WWW-Authenticate", "Bearer")
	}
	status := e.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	c.JSON(status, errorBody{Error: errorPayload{Code: e.Code, Message: e.Message, Details: e.Details}})
}

// retryAfterSeconds rounds up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// errorLogger is the logger set by AccessLog or Recovery, else slog.Default().
func errorLogger(c *gin.Context) *slog.Logger {
	if v, ok := c.Get(loggerContextKey); ok {
		if l, ok := v.(*slog.Logger); ok && l != nil {
			return l
		}
	}
	return slog.Default()
}

func requestLogAttrs(c *gin.Context, extra ...slog.Attr) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("request_id", RequestIDFrom(c)),
		slog.String("method", c.Request.Method),
		slog.String("route", routeLabel(c)),
	}
	return append(attrs, extra...)
}
