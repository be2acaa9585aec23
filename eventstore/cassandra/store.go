// Package cassandra is the Apache Cassandra backend of the event store, on
// github.com/gocql/gocql. It implements eventstore.Store, eventstore.Waiter,
// eventstore.CheckpointStore and Lead (one leader at a time per role, for
// the Kafka relay).
//
// # Tables
//
// Open creates the keyspace (SimpleStrategy with Config.ReplicationFactor,
// or NetworkTopologyStrategy when Config.DataCenter is set) and the tables
// of schema.go if they are missing, with fixed table ids and a wait for
// schema agreement after each change, so processes may start together.
//
//   - events ((stream_id, partition_nr), version): the streams. A stream's
//     versions are bucketed by streamBucket into partitions, so a stream of
//     100,000 events is 5 partitions. Written only by lightweight
//     transactions: an append is one conditional BATCH of INSERT … IF NOT
//     EXISTS rows inside the partition of its first version (an append may
//     run past its partition's range by up to MaxAppend-1 versions rather
//     than straddle two partitions, which no transaction could cover).
//     Writes at Config.Consistency (QUORUM), serial consistency SERIAL.
//   - event_ids: which stream and version each event id was claimed for.
//   - feed, feed_buckets: the global feed (feed.go).
//   - events_by_key, events_by_time, key_buckets: audit queries (query.go).
//   - checkpoints, writer_ids, leases.
//
// # Appending
//
// See append.go: read the stream's head, check the event ids, write the
// feed rows as pending, then the stream's transaction, then the query
// tables and the feed rows as committed. A transaction whose outcome is
// unknown (a CAS write timeout) is resolved by reading the stream at SERIAL,
// which completes or supersedes the transaction in flight, never surfaced
// as an unknown error.
//
// # Positions
//
// There is no global sequence in Cassandra to borrow. A position is a
// uint64 packing the millisecond an append was prepared, the writer id of
// the process (claimed with a lightweight transaction at Open) and a
// sequence (position.go): unique, increasing within a stream, and the
// feed's order. See feed.go for why a tailer never skips or repeats one.
package cassandra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"

	"github.com/examhall/exam/eventstore"
)

// Limits and layout.
const (
	// streamBucket versions per events partition.
	streamBucket = 20_000
	// MaxAppend is the most events one Append may hold: they are one
	// conditional batch in one partition, and take consecutive positions
	// within one millisecond (at most maxSeq). A grading round appends one
	// event per changed score, so this bounds the students of one exam.
	MaxAppend = 8_000
	// feedShards spreads a minute of the feed over this many partitions.
	feedShards = 8
)

// Config selects the cluster and how the store talks to it.
type Config struct {
	// Hosts are the contact points, "host:port" (port 9042 when left out).
	Hosts []string
	// Keyspace holds the store's tables (default "examhall").
	Keyspace string
	// ReplicationFactor is used when Open creates the keyspace (default 3).
	ReplicationFactor int
	// DataCenter, when set, creates the keyspace with NetworkTopologyStrategy
	// in that data centre (and serial consistency LOCAL_SERIAL).
	DataCenter string
	// Consistency of reads and writes: "QUORUM" (default), "LOCAL_QUORUM",
	// "ONE" (a single node), "ALL".
	Consistency string
	// FeedDelay is how far behind the clock the feed is read (default 1s):
	// an append whose feed rows were not stored within FeedDelay/2 of its
	// position's time takes new positions before it commits (see feed.go).
	FeedDelay time.Duration
	// AbandonAfter is how long a pending feed row may stay undecided before
	// a reader decides its transaction will never run (default 30s).
	AbandonAfter time.Duration
	// Timeout of one request (default 10s).
	Timeout time.Duration
	Logger  *slog.Logger
}

var keyspaceName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// consistencies are the levels Config.Consistency accepts.
var consistencies = map[string]gocql.Consistency{
	"ONE": gocql.One, "QUORUM": gocql.Quorum, "LOCAL_QUORUM": gocql.LocalQuorum, "ALL": gocql.All,
	"LOCAL_ONE": gocql.LocalOne, "TWO": gocql.Two, "THREE": gocql.Three,
}

// WithDefaults fills in the defaults.
func (c Config) WithDefaults() Config {
	if c.Keyspace == "" {
		c.Keyspace = "examhall"
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = 3
	}
	if c.Consistency == "" {
		c.Consistency = "QUORUM"
	}
	c.Consistency = strings.ToUpper(c.Consistency)
	if c.FeedDelay == 0 {
		c.FeedDelay = time.Second
	}
	if c.AbandonAfter == 0 {
		c.AbandonAfter = 30 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Hosts) == 0 {
		errs = append(errs, errors.New("no hosts"))
	}
	for _, h := range c.Hosts {
		if strings.TrimSpace(h) == "" || strings.ContainsAny(h, " /") {
			errs = append(errs, fmt.Errorf("bad host %q (want host or host:port)", h))
		}
	}
	if !keyspaceName.MatchString(c.Keyspace) {
		errs = append(errs, fmt.Errorf("bad keyspace %q (lower-case letters, digits and _, starting with a letter, at most 48)", c.Keyspace))
	}
	if c.ReplicationFactor < 1 || c.ReplicationFactor > 15 {
		errs = append(errs, fmt.Errorf("replication factor %d out of 1..15", c.ReplicationFactor))
	}
	if _, ok := consistencies[c.Consistency]; !ok {
		errs = append(errs, fmt.Errorf("unknown consistency %q (QUORUM, LOCAL_QUORUM, ONE, ALL, …)", c.Consistency))
	}
	if c.FeedDelay < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("feed delay %v below 10ms", c.FeedDelay))
	}
	if c.AbandonAfter < 4*c.FeedDelay {
		errs = append(errs, fmt.Errorf("abandon-after %v must be at least 4 feed delays", c.AbandonAfter))
	}
	if len(errs) > 0 {
		return fmt.Errorf("cassandra: config: %w", errors.Join(errs...))
	}
	return nil
}

// Store is the Cassandra event store. It is safe for concurrent use.
type Store struct {
	cfg     Config
	sess    *gocql.Session
	cons    gocql.Consistency
	serial  gocql.Consistency // SERIAL (or LOCAL_SERIAL) as a read consistency
	serialC gocql.SerialConsistency
	log     *slog.Logger
	gen     positions
	writer  writerLease
	closed  atomic.Bool
	done    chan struct{}
	wg      sync.WaitGroup
	heads   headCache
	buckets bucketCache

	// casHook, for tests, runs around the stream's transaction: it may
	// replace the result with an error after (or instead of) running it.
	casHook func(run func() (bool, error)) (bool, error)
	// bucket and maxAppend are streamBucket and MaxAppend; tests make them
	// small to cross partition boundaries often.
	bucket, maxAppend int64
	// leaseTTL, for tests, replaces defaultLeaseTTL; leaseHook, when it
	// returns true, skips a renewal (a frozen leader).
	leaseTTL  time.Duration
	leaseHook func() bool
}

// Open connects, creates or migrates the schema, claims a writer id and
// returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cons := consistencies[cfg.Consistency]
	serial := gocql.Serial
	if cfg.DataCenter != "" {
		serial = gocql.LocalSerial
	}
	cluster := gocql.NewCluster(cfg.Hosts...)
	cluster.Consistency = cons
	cluster.SerialConsistency = serial
	cluster.Timeout = cfg.Timeout
	cluster.ConnectTimeout = cfg.Timeout
	cluster.ProtoVersion = 4
	cluster.NumConns = 2
	cluster.MaxWaitSchemaAgreement = 2 * time.Minute
	cluster.Logger = slogLogger{cfg.Logger}
	setHostPolicy(cluster, cfg)
	// Reads and plain writes are idempotent here and may be retried; the
	// transactions are executed without a retry policy (see cas).
	cluster.RetryPolicy = &gocql.ExponentialBackoffRetryPolicy{NumRetries: 3, Min: 50 * time.Millisecond, Max: time.Second}

	boot, err := cluster.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra: connect to %s: %w", strings.Join(cfg.Hosts, ","), err)
	}
	err = migrate(ctx, boot, cfg)
	boot.Close()
	if err != nil {
		return nil, err
	}
	cluster.Keyspace = cfg.Keyspace
	setHostPolicy(cluster, cfg) // a session's policy is its own
	sess, err := cluster.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("cassandra: connect to keyspace %s: %w", cfg.Keyspace, err)
	}
	s := &Store{cfg: cfg, sess: sess, cons: cons, serial: gocql.Consistency(serial), serialC: serial, log: cfg.Logger, done: make(chan struct{}),
		bucket: streamBucket, maxAppend: MaxAppend}
	s.gen.now = time.Now
	id, err := s.claimWriterID(ctx)
	if err != nil {
		sess.Close()
		return nil, err
	}
	s.gen.writer = uint64(id)
	return s, nil
}

// Keyspace names the store's keyspace.
func (s *Store) Keyspace() string { return s.cfg.Keyspace }

// Close releases the writer id and the session; further calls return
// eventstore.ErrClosed, and waiters wake with it.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.done)
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.releaseWriterID(ctx)
	cancel()
	s.sess.Close()
	return nil
}

func (s *Store) check() error {
	if s.closed.Load() {
		return eventstore.ErrClosed
	}
	return nil
}

func (s *Store) q(ctx context.Context, stmt string, args ...any) *gocql.Query {
	return s.sess.Query(stmt, args...).WithContext(ctx)
}

// ---- writer ids ----

// writerLease is the writer id this process holds in writer_ids: a
// lightweight transaction with a TTL, renewed while the store is open, so
// two live processes never share the id bits of their positions.
type writerLease struct {
	id    int
	owner string
}

const writerTTL = 24 * time.Hour

func (s *Store) claimWriterID(ctx context.Context) (int, error) {
	owner := uuid.NewString()
	for range 200 {
		id := rand.IntN(maxWriters)
		applied, err := s.q(ctx, `INSERT INTO writer_ids (id, owner) VALUES (?, ?) IF NOT EXISTS USING TTL ?`,
			id, owner, int(writerTTL/time.Second)).MapScanCAS(map[string]any{})
		if err != nil {
			return 0, fmt.Errorf("cassandra: claim a writer id: %w", err)
		}
		if applied {
			s.writer = writerLease{id: id, owner: owner}
			s.wg.Add(1)
			go s.renewWriterID()
			return id, nil
		}
	}
	return 0, errors.New("cassandra: no free writer id after 200 tries (1024 processes?)")
}

func (s *Store) renewWriterID() {
	defer s.wg.Done()
	t := time.NewTicker(writerTTL / 24)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
			applied, err := s.q(ctx, `UPDATE writer_ids USING TTL ? SET owner = ? WHERE id = ? IF owner = ?`,
				int(writerTTL/time.Second), s.writer.owner, s.writer.id, s.writer.owner).MapScanCAS(map[string]any{})
			cancel()
			if err != nil || !applied {
				s.log.Error("cassandra: writer id renewal failed", "writer", s.writer.id, "applied", applied, "err", err)
			}
		}
	}
}

func (s *Store) releaseWriterID(ctx context.Context) {
	_, err := s.q(ctx, `DELETE FROM writer_ids WHERE id = ? IF owner = ?`, s.writer.id, s.writer.owner).MapScanCAS(map[string]any{})
	if err != nil {
		s.log.Warn("cassandra: writer id not released (it expires by itself)", "writer", s.writer.id, "err", err)
	}
}

// slogLogger sends gocql's log lines to slog.
type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Print(v ...any) { l.l.Warn(fmt.Sprint(v...), "component", "gocql") }
func (l slogLogger) Printf(format string, v ...any) {
	l.l.Warn(fmt.Sprintf(format, v...), "component", "gocql")
}
func (l slogLogger) Println(v ...any) { l.l.Warn(fmt.Sprint(v...), "component", "gocql") }

// setHostPolicy routes each request to a replica of its partition.
func setHostPolicy(cluster *gocql.ClusterConfig, cfg Config) {
	if cfg.DataCenter != "" {
		cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy(cfg.DataCenter))
	} else {
		cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	}
}
