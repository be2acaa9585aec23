// Package api is the HTTP face of the platform (contract: API.md, kept beside
// the repository in ../shared/; /api/v1/openapi.json is its machine-readable
// form).
//
// Handlers only translate HTTP into commands and queries and back; errors
// go through the one mapping in errors.go.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadModel is what the API reads from projections.
type ReadModel interface {
	Exam(ctx context.Context, id string) (*domain.Exam, bool, error)
	ListExams(ctx context.Context, f projections.ExamFilter) ([]*domain.Exam, bool, error)
	Levels(ctx context.Context) ([]domain.Level, error)
	User(ctx context.Context, id string) (*domain.User, bool, error)
	ListUsers(ctx context.Context, f projections.UserFilter) ([]*domain.User, bool, error)
	StudentExam(ctx context.Context, id string) (projections.StudentDoc, bool, error)
	ExamResults(ctx context.Context, examID string) ([]projections.ResultRow, error)
	GradesApplied(ctx context.Context, examID string) (int64, error)
	StudentResult(ctx context.Context, examID, studentID string) (projections.ResultRow, bool, error)
	StudentResults(ctx context.Context, studentID string) ([]projections.ResultRow, error)
}

// Watermark lets a client read its own writes: it waits until the read
// models have applied everything up to a global position.
type Watermark interface {
	WaitPublished(ctx context.Context, position uint64) error
}

// LogHead reports how far the event log goes (eventstore.Store's Head).
type LogHead interface {
	Head(ctx context.Context) (uint64, error)
}

// AccessTokens verifies access tokens.
type AccessTokens interface {
	ParseAccess(token string) (auth.AccessClaims, error)
}

// EventQuerier answers audit queries from the event store.
type EventQuerier interface {
	Query(ctx context.Context, f eventstore.Filter) ([]eventstore.Record, error)
}

// ReadyCheck reports whether a dependency is reachable.
type ReadyCheck func(ctx context.Context) error

// Config wires the server.
type Config struct {
	Commands  *commands.Handlers
	Reads     ReadModel
	Events    EventQuerier
	Tokens    AccessTokens
	Watermark Watermark // optional
	// Head lets X-Min-Position beyond the log be refused at once instead
	// of waited for (optional: without it every position is waited for).
	Head     LogHead
	Images   ImageSource // optional: without it no image is found
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// ReadyChecks are run by /readyz.
	ReadyChecks map[string]ReadyCheck
	// MaxBodyBytes bounds JSON bodies (default 1 MiB).
	MaxBodyBytes int64
	// AccessTTL is reported as expires_in.
	AccessTTL time.Duration
	// Imports caps the file imports running at once in this process
	// (default: its own of DefaultMaxConcurrentImports); excess gets 503.
	// The web admin gets the same one.
	Imports *Admission
	// Now is the clock that decides when a scheduled exam opens for its
	// students (default time.Now; the platform passes its own).
	Now func() time.Time
	// Extra registers routes of other packages (the admin UI) on the engine.
	Extra func(r *gin.Engine)
}

// Validate reports every missing dependency.
func (c *Config) Validate() error {
	var errs []error
	if c.Commands == nil {
		errs = append(errs, errors.New("api: Commands is required"))
	}
	if c.Reads == nil {
		errs = append(errs, errors.New("api: Reads is required"))
	}
	if c.Events == nil {
		errs = append(errs, errors.New("api: Events is required"))
	}
	if c.Tokens == nil {
		errs = append(errs, errors.New("api: Tokens is required"))
	}
	return errors.Join(errs...)
}

// Server holds the handlers' dependencies.
type Server struct {
	cmd       *commands.Handlers
	reads     ReadModel
	events    EventQuerier
	tokens    AccessTokens
	watermark Watermark
	images    ImageSource
	log       *slog.Logger
	accessTTL time.Duration
	ready     map[string]ReadyCheck
	head      LogHead
	now       func() time.Time
	imports   *Admission
}

// NewHandler builds the HTTP handler with every route of the contract.
func NewHandler(cfg Config) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Imports == nil {
		cfg.Imports = NewAdmission(DefaultMaxConcurrentImports)
	}
	s := &Server{cmd: cfg.Commands, reads: cfg.Reads, events: cfg.Events, tokens: cfg.Tokens, watermark: cfg.Watermark,
		images: cfg.Images, log: cfg.Logger, accessTTL: cfg.AccessTTL, ready: cfg.ReadyChecks, head: cfg.Head, now: cfg.Now,
		imports: cfg.Imports}
	idempotent, err := newIdempotency(s)
	if err != nil {
		return nil, err
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// Multipart forms parsed by gin (the web admin's) keep at most 1 MiB of
	// their files in memory and spool the rest to temporary files; the
	// API's own uploads stream their file part and never parse the form.
	r.MaxMultipartMemory = 1 << 20
	r.ContextWithFallback = true
	metrics, err := Metrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	r.Use(RequestID(), AccessLog(cfg.Logger), metrics, Recovery(cfg.Logger), SecurityHeaders(), HeaderLimit(MaxHeaderBytes))
	r.NoRoute(NotFoundHandler)
	r.NoMethod(MethodNotAllowedHandler)

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{})))

	v1 := r.Group("/api/v1", BodyLimit(cfg.MaxBodyBytes))
	v1.GET("/openapi.json", serveOpenAPI)

	v1.POST("/auth/login", s.login)
	v1.POST("/auth/refresh", s.refresh)
	v1.POST("/auth/verify", s.verify)
	v1.POST("/auth/logout", s.logout)

	authed := v1.Group("", s.authenticate, s.readYourWrites, preconditions, idempotent)
	authed.GET("/me", s.me)
	authed.POST("/me/password", s.changePassword)
	authed.POST("/auth/logout-all", s.logoutAll)
	authed.GET("/me/results", s.myResults)

	authed.POST("/levels", s.createLevel)
	authed.GET("/levels", s.listLevels)

	authed.POST("/users", s.createUser)
	authed.GET("/users", s.listUsers)
	authed.GET("/users/export", s.exportUsers)
	authed.GET("/users/:id", s.getUser)
	authed.PATCH("/users/:id", s.patchUser)

	authed.POST("/exams", s.createExam)
	authed.GET("/exams", s.listExams)
	authed.GET("/exams/:id", s.getExam)
	authed.PUT("/exams/:id", s.replaceExam)
	authed.POST("/exams/:id/questions", s.addQuestion)
	authed.PUT("/exams/:id/questions/:qid", s.updateQuestion)
	authed.DELETE("/exams/:id/questions/:qid", s.removeQuestion)
	authed.PUT("/exams/:id/questions/:qid/answer-key", s.correctAnswerKey)
	authed.POST("/exams/:id/publish", s.publishExam)
	authed.POST("/exams/:id/close", s.closeExam)
	authed.POST("/exams/:id/regrade", s.regrade)
	authed.GET("/exams/:id/results", s.examResults)
	authed.GET("/exams/:id/stats", s.examStats)
	authed.GET("/exams/:id/events", s.examEvents)
	authed.GET("/exams/:id/questions/export", s.exportQuestions)

	authed.POST("/exams/:id/attempt", s.startAttempt)
	authed.GET("/exams/:id/attempt", s.getAttempt)
	authed.PUT("/exams/:id/answers/:qid", s.saveAnswer)
	authed.POST("/exams/:id/answers", s.saveAnswers)
	authed.POST("/exams/:id/submit", s.submit)
	authed.GET("/exams/:id/result", s.myExamResult)

	authed.PUT("/exams/:id/accommodations/:student_id", s.setAccommodation)
	authed.DELETE("/exams/:id/accommodations/:student_id", s.removeAccommodation)
	authed.GET("/exams/:id/monitor", s.getMonitor)
	authed.GET("/exams/:id/monitor/events", s.monitorEvents)

	authed.GET("/audit/events", s.auditEvents)

	authed.GET("/images/:id", s.getImage)

	// Uploads: multipart bodies over the JSON limit. Same authenticated
	// chain, behind their own BodyLimit (the JSON group's would refuse a
	// declared length over it before any later limit could raise it).
	uploads := r.Group("/api/v1")
	uploads.POST("/images", BodyLimit(imageBodyLimit), s.authenticate, s.readYourWrites, preconditions, idempotent, s.uploadImage)
	uploads.POST("/exams/:id/results/import", BodyLimit(importBodyLimit), s.authenticate, s.readYourWrites, preconditions, idempotent, s.importResults)
	// Not behind idempotent: it would keep the response, generated
	// passwords included, in the event log; the command is idempotent by
	// itself under an Idempotency-Key (commands.ImportRosterHandler).
	uploads.POST("/users/import", BodyLimit(rosterBodyLimit), s.authenticate, s.readYourWrites, s.importUsers)
	uploads.POST("/exams/:id/questions/import", BodyLimit(questionImportBodyLimit), s.authenticate, s.readYourWrites, preconditions, idempotent, s.importQuestions)

	if cfg.Extra != nil {
		cfg.Extra(r)
	}
	return r, nil
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	failed := map[string]string{}
	for name, check := range s.ready {
		if err := check(ctx); err != nil {
			failed[name] = "unreachable"
			s.log.Warn("readiness check failed", "check", name, "err", err)
		}
	}
	if len(failed) > 0 {
		c.Header("Retry-After", "1")
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": gin.H{"code": "unavailable", "message": "dependencies unreachable", "details": failed}})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
