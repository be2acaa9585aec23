package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// Keys this file stores in the gin context.
const (
	requestIDContextKey = "request_id"
	loggerContextKey    = "api.logger"
	bodyLimitContextKey = "api.body_limit"
	origBodyContextKey  = "api.original_body"
	// userIDContextKey is set by the authentication middleware (not in this
	// file); AccessLog reports it.
	userIDContextKey = "user_id"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

// DefaultBodyLimit applies when no BodyLimit middleware ran.
const DefaultBodyLimit int64 = 1 << 20

// unmatchedRoute is the route label of requests that matched no route.
const unmatchedRoute = "unmatched"

// RequestID takes the incoming X-Request-ID when it is a sane token (1–64
// characters of [A-Za-z0-9-_.]), else generates a UUID. The id is echoed in
// the response header and stored in the gin context (RequestIDFrom).
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		c.Set(requestIDContextKey, id)
		c.Header(RequestIDHeader, id)
		c.Next()
	}
}

// RequestIDFrom returns the request id set by RequestID, or "".
func RequestIDFrom(c *gin.Context) string { return c.GetString(requestIDContextKey) }

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

// routeLabel is the matched route template, or "unmatched".
func routeLabel(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return unmatchedRoute
}

// AccessLog writes one line per request after it completes: method, route
// template, path (never the query string, which may hold tokens), status,
// duration, response bytes, request id and, when authentication set it, the
// user id. Never bodies or headers. 5xx are logged at warn, the rest at
// info. It also makes logger the one WriteError uses for this request.
func AccessLog(logger *slog.Logger) gin.HandlerFunc {
	if logger == nil {
		logger = slog.Default()
	}
	return func(c *gin.Context) {
		start := time.Now()
		c.Set(loggerContextKey, logger)
		c.Next()

		status := c.Writer.Status()
		attrs := make([]slog.Attr, 0, 9)
		attrs = append(attrs,
			slog.String("method", c.Request.Method),
			slog.String("route", routeLabel(c)),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.String("request_id", RequestIDFrom(c)),
		)
		if uid := c.GetString(userIDContextKey); uid != "" {
			attrs = append(attrs, slog.String("user_id", uid))
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelWarn
		}
		logger.LogAttrs(c.Request.Context(), level, "http request", attrs...)
	}
}

// BodyLimit caps the request body at n bytes. A declared Content-Length over
// n is rejected at once with 413 payload_too_large; otherwise the body is
// wrapped in http.MaxBytesReader, so reading past n fails with
// *http.MaxBytesError (which DecodeJSON and WriteError turn into 413), and
// DecodeJSON uses n as its limit.
//
// A later BodyLimit in the chain replaces an earlier one (it re-wraps the
// original body), so a route group can raise the limit, e.g. for uploads,
// provided no earlier BodyLimit already refused the declared length: put the
// engine-wide limit on the JSON API group rather than on the engine if some
// routes need more.
func BodyLimit(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			Abort(c, payloadTooLarge(n))
			return
		}
		c.Set(bodyLimitContextKey, n)
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			orig := c.Request.Body
			if v, ok := c.Get(origBodyContextKey); ok {
				if b, ok := v.(io.ReadCloser); ok {
					orig = b
				}
			} else {
				c.Set(origBodyContextKey, orig)
			}
			c.Request.Body = http.MaxBytesReader(c.Writer, orig, n)
		}
		c.Next()
	}
}

// Header limits. Go's http.Server answers a header block over its
// MaxHeaderBytes itself, in plain text and before any handler runs; so the
// server's limit (ServerMaxHeaderBytes, set in cmd/) is a generous hard
// stop and the limit clients meet is HeaderLimit's, which answers in the
// contract's error shape.
const (
	// MaxHeaderBytes is the size of the request line and headers a client
	// may send (431 header_too_large above it).
	MaxHeaderBytes = 64 << 10
	// ServerMaxHeaderBytes is for http.Server.MaxHeaderBytes.
	ServerMaxHeaderBytes = 1 << 20
)

// HeaderLimit refuses a request whose request line and headers (as sent:
// name, ": ", value, CRLF per line) exceed n bytes with 431
// header_too_large.
func HeaderLimit(n int) gin.HandlerFunc {
	return func(c *gin.Context) {
		size := len(c.Request.Method) + len(c.Request.RequestURI) + len(c.Request.Proto) + 4
		for k, vs := range c.Request.Header {
			for _, v := range vs {
				size += len(k) + len(v) + 4
			}
		}
		size += len(c.Request.Host) + 8 // Go moves Host out of the map
		if size > n {
			Abort(c, NewAPIError(http.StatusRequestHeaderFieldsTooLarge, "header_too_large",
				"the request headers are too large").WithDetails(map[string]any{"limit_bytes": n}))
			return
		}
		c.Next()
	}
}

// bodyLimit is the limit set by BodyLimit, else DefaultBodyLimit.
func bodyLimit(c *gin.Context) int64 {
	if v, ok := c.Get(bodyLimitContextKey); ok {
		if n, ok := v.(int64); ok {
			return n
		}
	}
	return DefaultBodyLimit
}

// Recovery turns a panic into 500 internal in the contract's error shape and
// logs it at error level with the stack and request id.
// http.ErrAbortHandler is re-panicked, as net/http expects.
//
// Register it after RequestID, AccessLog and Metrics
// (r.Use(RequestID(), AccessLog(l), metrics, Recovery(l), ...)): a panic
// unwinds every middleware between it and Recovery without running their
// code after c.Next(), so middleware outside Recovery would neither log nor
// count the request; inside, they see the 500 that Recovery wrote.
func Recovery(logger *slog.Logger) gin.HandlerFunc {
	if logger == nil {
		logger = slog.Default()
	}
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(rec)
			}
			logger.LogAttrs(c.Request.Context(), slog.LevelError, "panic",
				requestLogAttrs(c,
					slog.String("panic", fmt.Sprint(rec)),
					slog.String("stack", string(debug.Stack())))...)
			if !c.Writer.Written() {
				writeAPIError(c, NewAPIError(http.StatusInternalServerError, "internal", msgInternal))
			}
			c.Abort()
		}()
		c.Next()
	}
}

// Metrics records http_requests_total{method,route,status} and
// http_request_duration_seconds{method,route}, with route = the matched
// route template or "unmatched" (bounded cardinality: never the raw path).
// If reg already holds these collectors (another engine in the same
// process), they are reused.
func Metrics(reg prometheus.Registerer) (gin.HandlerFunc, error) {
	if reg == nil {
		return nil, errors.New("api: Metrics needs a prometheus.Registerer")
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total",
		Help: "HTTP requests by method, route template and status code.",
	}, []string{"method", "route", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "HTTP request duration by method and route template.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})

	if err := reg.Register(requests); err != nil {
		are := &prometheus.AlreadyRegisteredError{}
		if !errors.As(err, are) {
			return nil, fmt.Errorf("api: register http_requests_total: %w", err)
		}
		existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
		if !ok {
			return nil, fmt.Errorf("api: http_requests_total registered with another type: %w", err)
		}
		requests = existing
	}
	if err := reg.Register(duration); err != nil {
		are := &prometheus.AlreadyRegisteredError{}
		if !errors.As(err, are) {
			return nil, fmt.Errorf("api: register http_request_duration_seconds: %w", err)
		}
		existing, ok := are.ExistingCollector.(*prometheus.HistogramVec)
		if !ok {
			return nil, fmt.Errorf("api: http_request_duration_seconds registered with another type: %w", err)
		}
		duration = existing
	}

	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		method := metricMethod(c.Request.Method)
		route := routeLabel(c)
		requests.WithLabelValues(method, route, strconv.Itoa(c.Writer.Status())).Inc()
		duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	}, nil
}

// metricMethod keeps the method label bounded: arbitrary client-chosen
// methods become "OTHER".
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// SecurityHeaders sets X-Content-Type-Options: nosniff, Referrer-Policy:
// no-referrer and X-Frame-Options: DENY before the handler runs (handlers may
// still override them).
func SecurityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		c.Next()
	}
}

// NotFoundHandler answers 404 not_found in the error shape; use it with
// engine.NoRoute.
func NotFoundHandler(c *gin.Context) {
	Abort(c, NewAPIError(http.StatusNotFound, "not_found", "no such route"))
}

// MethodNotAllowedHandler answers 405 method_not_allowed in the error shape;
// use it with engine.NoMethod and engine.HandleMethodNotAllowed = true (gin
// sets the Allow header).
func MethodNotAllowedHandler(c *gin.Context) {
	Abort(c, NewAPIError(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed for this route"))
}
