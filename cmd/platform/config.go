package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/eventstore/cassandra"
)

// Event-store backends (EXAM_EVENTSTORE).
const (
	EventStoreEmbedded  = "embedded"
	EventStorePostgres  = "postgres"
	EventStoreCassandra = "cassandra"
)

// Roles a process can run (EXAM_ROLES, comma-separated; default all).
const (
	RoleAPI       = "api"
	RoleRelay     = "relay"
	RoleProjector = "projector"
	RoleGrader    = "grader"
	RoleScheduler = "scheduler"
)

// AllRoles is the default: one process does everything.
var AllRoles = []string{RoleAPI, RoleRelay, RoleProjector, RoleGrader, RoleScheduler}

// Roles is the set of roles a process runs.
type Roles map[string]bool

// Has reports whether the role is in the set.
func (r Roles) Has(role string) bool { return r[role] }

// ParseRoles reads a comma-separated role list.
func ParseRoles(s string) (Roles, error) {
	roles := Roles{}
	var errs []error
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if part == "" {
			continue
		}
		if !slices.Contains(AllRoles, part) {
			errs = append(errs, fmt.Errorf("EXAM_ROLES: unknown role %q (roles: %s)", part, strings.Join(AllRoles, ", ")))
			continue
		}
		roles[part] = true
	}
	if len(roles) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("EXAM_ROLES: at least one role is needed"))
	}
	return roles, errors.Join(errs...)
}

// Config is the whole configuration, validated at start-up.
type Config struct {
	// Roles this process runs (EXAM_ROLES; default all). Only a process
	// with the api role serves HTTP.
	Roles Roles
	// KafkaBrokers, when set, makes the relay publish every event to Kafka
	// and the projector, grader and student-cache roles consume it through
	// consumer groups (EXAM_KAFKA_BROKERS, comma-separated host:port).
	KafkaBrokers []string
	// KafkaPartitions is the partition count of topics the platform
	// creates (EXAM_KAFKA_PARTITIONS, default 8).
	KafkaPartitions int
	// ReadModelPostgresURL, when set, keeps the read models (catalogue, user
	// directory, degrees, images) in PostgreSQL instead of in process
	// (EXAM_READMODEL_POSTGRES_URL, EXAM_READMODEL_POSTGRES_SCHEMA).
	ReadModelPostgresURL    string
	ReadModelPostgresSchema string
	// RedisURL, when set, keeps the student exam documents and the login
	// throttle in Redis (EXAM_REDIS_URL, redis://host:port/db).
	RedisURL string

	// EventStore picks the backend: embedded (default) or postgres
	// (EXAM_EVENTSTORE), with EXAM_EVENTSTORE_POSTGRES_URL and, optionally,
	// EXAM_EVENTSTORE_POSTGRES_SCHEMA (default public).
	EventStore               string
	EventStorePostgresURL    string
	EventStorePostgresSchema string
	// With EXAM_EVENTSTORE=cassandra: EXAM_CASSANDRA_HOSTS (comma-separated
	// host:port), EXAM_CASSANDRA_KEYSPACE (default examhall),
	// EXAM_CASSANDRA_REPLICATION_FACTOR (default 3, used when the keyspace is
	// created) and EXAM_CASSANDRA_CONSISTENCY (default QUORUM).
	CassandraHosts             []string
	CassandraKeyspace          string
	CassandraReplicationFactor int
	CassandraConsistency       string
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
	// Caliper, when set, publishes the attempt and grade events as IMS
	// Caliper 1.2 envelopes (EXAM_CALIPER): "kafka" on the topic
	// exam.caliper (needs EXAM_KAFKA_BROKERS), "http" to a Caliper endpoint
	// (EXAM_CALIPER_ENDPOINT, with the bearer token EXAM_CALIPER_TOKEN if
	// it wants one). Entities are named under CaliperBaseURL
	// (EXAM_CALIPER_BASE_URL, the platform's public URL). The projection
	// runs with the projector role, as the consumer group
	// exam.projector.caliper (the distributed mode with Kafka).
	Caliper, CaliperEndpoint, CaliperToken, CaliperBaseURL string

	// Logger overrides the default JSON logger on stderr.
	Logger *slog.Logger
}

// Defaults returns the configuration with nothing set.
func Defaults() Config {
	return Config{
		Roles:                      rolesOf(AllRoles...),
		KafkaPartitions:            8,
		EventStore:                 EventStoreEmbedded,
		CassandraKeyspace:          "examhall",
		CassandraReplicationFactor: 3,
		CassandraConsistency:       "QUORUM",
		HTTPAddr:                   "127.0.0.1:8080",
		DataDir:                    "./data",
		LogLevel:                   slog.LevelInfo,
		AccessTTL:                  15 * time.Minute,
		RefreshTTL:                 30 * 24 * time.Hour,
		SchedulerInterval:          time.Second,
		GraderReconcile:            30 * time.Second,
		Argon2:                     auth.DefaultArgon2Params(),
		MaxBodyBytes:               1 << 20,
		Now:                        time.Now,
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
	set("EXAM_CASSANDRA_KEYSPACE", &c.CassandraKeyspace)
	set("EXAM_CASSANDRA_CONSISTENCY", &c.CassandraConsistency)
	if v := strings.TrimSpace(getenv("EXAM_CASSANDRA_HOSTS")); v != "" {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				c.CassandraHosts = append(c.CassandraHosts, h)
			}
		}
	}
	if v := strings.TrimSpace(getenv("EXAM_CASSANDRA_REPLICATION_FACTOR")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("EXAM_CASSANDRA_REPLICATION_FACTOR: %w", err))
		}
		c.CassandraReplicationFactor = n
	}
	set("EXAM_READMODEL_POSTGRES_URL", &c.ReadModelPostgresURL)
	set("EXAM_READMODEL_POSTGRES_SCHEMA", &c.ReadModelPostgresSchema)
	set("EXAM_REDIS_URL", &c.RedisURL)
	if v := strings.TrimSpace(getenv("EXAM_ROLES")); v != "" {
		roles, err := ParseRoles(v)
		if err != nil {
			errs = append(errs, err)
		}
		c.Roles = roles
	}
	if v := strings.TrimSpace(getenv("EXAM_KAFKA_BROKERS")); v != "" {
		c.KafkaBrokers = nil
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.KafkaBrokers = append(c.KafkaBrokers, b)
			}
		}
	}
	if v := getenv("EXAM_KAFKA_PARTITIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("EXAM_KAFKA_PARTITIONS: %w", err))
		}
		c.KafkaPartitions = n
	}
	set("EXAM_CALIPER", &c.Caliper)
	set("EXAM_CALIPER_ENDPOINT", &c.CaliperEndpoint)
	set("EXAM_CALIPER_BASE_URL", &c.CaliperBaseURL)
	c.CaliperToken = getenv("EXAM_CALIPER_TOKEN")
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

func rolesOf(names ...string) Roles {
	r := Roles{}
	for _, n := range names {
		r[n] = true
	}
	return r
}

func (c Config) hasAllRoles() bool {
	for _, r := range AllRoles {
		if !c.Roles.Has(r) {
			return false
		}
	}
	return true
}

// Distributed reports whether the read side runs on shared parts
// (PostgreSQL read models fed through a bus) rather than in process.
func (c Config) Distributed() bool { return c.ReadModelPostgresURL != "" }

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
		if len(c.CassandraHosts) == 0 {
			errs = append(errs, errors.New("EXAM_EVENTSTORE=cassandra needs EXAM_CASSANDRA_HOSTS"))
		}
		for _, h := range c.CassandraHosts {
			if _, _, err := net.SplitHostPort(h); err != nil {
				errs = append(errs, fmt.Errorf("EXAM_CASSANDRA_HOSTS %q: %w", h, err))
			}
		}
		if c.CassandraReplicationFactor < 1 {
			errs = append(errs, fmt.Errorf("EXAM_CASSANDRA_REPLICATION_FACTOR %d: the replication factor must be at least 1", c.CassandraReplicationFactor))
		}
		if err := c.cassandraConfig(nil).Validate(); err != nil && len(c.CassandraHosts) > 0 {
			errs = append(errs, fmt.Errorf("EXAM_CASSANDRA_KEYSPACE, _REPLICATION_FACTOR or _CONSISTENCY: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("EXAM_EVENTSTORE %q: must be embedded, postgres or cassandra", c.EventStore))
	}
	if len(c.Roles) == 0 {
		errs = append(errs, errors.New("EXAM_ROLES: at least one role is needed"))
	}
	for _, b := range c.KafkaBrokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("EXAM_KAFKA_BROKERS %q: %w", b, err))
		}
	}
	errs = append(errs, c.validateCaliper()...)
	if c.KafkaPartitions < 1 {
		errs = append(errs, errors.New("EXAM_KAFKA_PARTITIONS must be at least 1"))
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		errs = append(errs, fmt.Errorf("EXAM_REDIS_URL %q: must start with redis:// or rediss://", c.RedisURL))
	}
	if !c.hasAllRoles() && c.EventStore == EventStoreEmbedded {
		errs = append(errs, errors.New("EXAM_ROLES: splitting roles over processes needs a shared event store (EXAM_EVENTSTORE=postgres or cassandra)"))
	}
	if !c.hasAllRoles() && (len(c.KafkaBrokers) == 0 || c.ReadModelPostgresURL == "") {
		errs = append(errs, errors.New("EXAM_ROLES: splitting roles over processes needs EXAM_KAFKA_BROKERS and EXAM_READMODEL_POSTGRES_URL (the roles meet through Kafka and the shared read models)"))
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

func (c Config) validateCaliper() []error {
	var errs []error
	switch c.Caliper {
	case "":
		return nil
	case CaliperKafka:
	case CaliperHTTP:
		if u, err := url.Parse(c.CaliperEndpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, errors.New("EXAM_CALIPER=http needs EXAM_CALIPER_ENDPOINT, an http(s) URL"))
		}
	default:
		errs = append(errs, fmt.Errorf("EXAM_CALIPER %q: must be kafka or http", c.Caliper))
	}
	// Its own consumer group on Kafka: on the in-process bus, which waits
	// for every subscriber, a slow Caliper endpoint would hold up the read
	// models.
	if !c.Distributed() || len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("EXAM_CALIPER needs the distributed mode with Kafka (EXAM_READMODEL_POSTGRES_URL and EXAM_KAFKA_BROKERS)"))
	}
	if u, err := url.Parse(c.CaliperBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, errors.New("EXAM_CALIPER needs EXAM_CALIPER_BASE_URL, the platform's public http(s) URL"))
	}
	return errs
}

// cassandraConfig is the Cassandra event store's configuration.
func (c Config) cassandraConfig(log *slog.Logger) cassandra.Config {
	return cassandra.Config{
		Hosts:             c.CassandraHosts,
		Keyspace:          c.CassandraKeyspace,
		ReplicationFactor: c.CassandraReplicationFactor,
		Consistency:       strings.ToUpper(c.CassandraConsistency),
		Logger:            log,
	}.WithDefaults()
}
