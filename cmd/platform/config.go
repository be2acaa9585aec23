// Package platform wires the exam platform from configuration: it picks the
// concrete adapters (today the embedded event store and the in-process bus)
// and starts the API, relay, projections, grader and scheduler. cmd/examd and
// the component tests both start the platform through it.
package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/examhall/exam/auth"
)

// Event-store backends (EXAM_EVENTSTORE).
const (
	EventStoreEmbedded  = "embedded"
	EventStorePostgres  = "postgres"
	EventStoreCassandra = "cassandra" // reserved: not available yet
)

// Config is the whole configuration, validated at start-up.
type Config struct {
	// EventStore picks the backend: embedded (default) or postgres
	// (EXAM_EVENTSTORE), with EXAM_EVENTSTORE_POSTGRES_URL and, optionally,
	// EXAM_EVENTSTORE_POSTGRES_SCHEMA (default public).
	EventStore               string
	EventStorePostgresURL    string
	EventStorePostgresSchema string
	// HTTPAddr is where the API listens (EXAM_HTTP_ADDR).
	HTTPAddr string
	// DataDir holds the embedded event store and the generated JWT secret
	// (EXAM_DATA_DIR).
	DataDir string
	// JWTSecret signs tokens (EXAM_JWT_SECRET); when empty a secret is
	// generated once and kept in DataDir.
	JWTSecret string
	// AdminEmail and AdminPassword bootstrap an admin (idempotent).
	AdminEmail    string
	AdminPassword string
	// LogLevel is debug, info, warn or error (EXAM_LOG_LEVEL).
	LogLevel slog.Level

	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	SchedulerInterval time.Duration
	// GraderReconcile is how often the grader re-checks exams owed a grading.
	GraderReconcile time.Duration
	// Argon2 parameters for password hashing.
	Argon2 auth.Argon2Params
	// MaxBodyBytes bounds JSON request bodies.
	MaxBodyBytes int64
	// Now is the clock (tests inject one).
	Now func() time.Time
	// Logger overrides the default JSON logger on stderr.
	Logger *slog.Logger
}

// Defaults returns the configuration with nothing set.
func Defaults() Config {
	return Config{
		EventStore:        EventStoreEmbedded,
		HTTPAddr:          "127.0.0.1:8080",
		DataDir:           "./data",
		LogLevel:          slog.LevelInfo,
		AccessTTL:         15 * time.Minute,
		RefreshTTL:        30 * 24 * time.Hour,
		SchedulerInterval: time.Second,
		GraderReconcile:   30 * time.Second,
		Argon2:            auth.DefaultArgon2Params(),
		MaxBodyBytes:      1 << 20,
		Now:               time.Now,
	}
}

// FromEnv reads the EXAM_* variables over the defaults.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Defaults()
	var errs []error
	set := func(name string, dst *string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = v
		}
	}
	set("EXAM_EVENTSTORE", &c.EventStore)
	set("EXAM_EVENTSTORE_POSTGRES_URL", &c.EventStorePostgresURL)
	set("EXAM_EVENTSTORE_POSTGRES_SCHEMA", &c.EventStorePostgresSchema)
	set("EXAM_HTTP_ADDR", &c.HTTPAddr)
	set("EXAM_DATA_DIR", &c.DataDir)
	c.JWTSecret = getenv("EXAM_JWT_SECRET")
	set("EXAM_ADMIN_EMAIL", &c.AdminEmail)
	c.AdminPassword = getenv("EXAM_ADMIN_PASSWORD")
	if v := getenv("EXAM_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("EXAM_LOG_LEVEL: %q is not debug, info, warn or error", v))
		}
	}
	durations := map[string]*time.Duration{
		"EXAM_ACCESS_TTL": &c.AccessTTL, "EXAM_REFRESH_TTL": &c.RefreshTTL, "EXAM_SCHEDULER_INTERVAL": &c.SchedulerInterval,
	}
	for name, dst := range durations {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
			*dst = d
		}
	}
	if v := getenv("EXAM_MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("EXAM_MAX_BODY_BYTES: %w", err))
		}
		c.MaxBodyBytes = n
	}
	return c, errors.Join(errs...)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	switch c.EventStore {
	case EventStoreEmbedded:
	case EventStorePostgres:
		if c.EventStorePostgresURL == "" {
			errs = append(errs, errors.New("EXAM_EVENTSTORE=postgres needs EXAM_EVENTSTORE_POSTGRES_URL"))
		}
	case EventStoreCassandra:
		errs = append(errs, errors.New("EXAM_EVENTSTORE=cassandra is reserved and not available yet"))
	default:
		errs = append(errs, fmt.Errorf("EXAM_EVENTSTORE %q: must be embedded or postgres", c.EventStore))
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("EXAM_HTTP_ADDR %q: %w", c.HTTPAddr, err))
	}
	if strings.TrimSpace(c.DataDir) == "" {
		errs = append(errs, errors.New("EXAM_DATA_DIR must not be empty"))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		errs = append(errs, errors.New("EXAM_JWT_SECRET must be at least 32 characters"))
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("EXAM_ADMIN_EMAIL and EXAM_ADMIN_PASSWORD go together"))
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < 8 {
		errs = append(errs, errors.New("EXAM_ADMIN_PASSWORD must be at least 8 characters"))
	}
	if c.AccessTTL <= 0 || c.RefreshTTL <= c.AccessTTL {
		errs = append(errs, errors.New("token lifetimes: access must be > 0 and refresh longer than access"))
	}
	if c.SchedulerInterval <= 0 || c.GraderReconcile <= 0 {
		errs = append(errs, errors.New("scheduler and grader intervals must be > 0"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("EXAM_MAX_BODY_BYTES must be at least 1024"))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("a clock is required"))
	}
	return errors.Join(errs...)
}
