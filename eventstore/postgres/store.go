// Package postgres is the PostgreSQL backend of the event store, built on
// pgx (pgxpool). It implements eventstore.Store, eventstore.Waiter and
// eventstore.CheckpointStore.
//
// # Schema
//
// Config.Schema (default "public") holds two tables, created and upgraded
// at Open by goose from the embedded migrations/*.sql, under a session
// advisory lock per schema so that processes starting together migrate one
// after the other:
//
//   - events: position (bigint, the global position, primary key), event_id
//     (uuid, unique), stream_id and version (unique together), type,
//     occurred_at (timestamptz), actor_id, actor_role, correlation_id,
//     causation_id, tags (text[]), data (bytea: the caller's bytes exactly;
//     jsonb would reorder keys), append_index and append_size (the event's
//     place in the Append that stored it, to recognise retries), and tx_id
//     (xid8, default pg_current_xact_id(): the writing transaction, for
//     diagnostics). Indexes for audit queries: (actor_id, position), GIN on
//     tags, (type, position), (occurred_at).
//   - checkpoints: name (primary key), position.
//
// # Positions are assigned in commit order
//
// The global feed (ReadAll) must never skip an event that a concurrent
// transaction commits late. With positions from a plain sequence it would:
// transaction A takes position 10, B takes 11 and commits first, a tailer
// reads 11 and moves its checkpoint past 10, A commits, 10 is never read.
//
// watermill-sql avoids this by reading only rows of transactions older than
// the oldest one in flight (tx_id < pg_snapshot_xmin(pg_current_snapshot()))
// in (tx_id, position) order, with both in its cursor. The port's cursor is
// one uint64; packing (tx_id, index in the transaction) into it would keep
// the no-skip property, but the snapshot's xmin is cluster-wide: the feed
// and Head would stall behind any transaction in flight anywhere on the
// server (another application's, a long migration, a session idle in a
// transaction), and an append would be neither in the feed nor under Head
// when Append returns, which Head's contract and reading one's own write by
// position need. Transaction id order also matches a stream's version order
// only as long as no append transaction gets its id before it reads the
// stream's version: true of a one-statement append, but a fragile rule.
//
// So positions are assigned in commit order instead. Every append
// transaction first takes one transaction-level advisory lock (per schema),
// then reads the last position and inserts after it. PostgreSQL releases
// transaction locks only after the commit is flushed and visible
// (CommitTransaction: RecordTransactionCommit, ProcArrayEndTransaction, then
// the locks), so the next writer takes its positions only once every lower
// position is committed and visible: any snapshot that sees position p sees
// every committed position below it. The visible feed is thus always a
// prefix of the final one, with no holes to fill later: ReadAll is simply
// "position > after" in position order, Head is max(position), and the
// tx_id filter is not needed. A rolled-back append leaves no row; its
// positions go to the next append. A stream's next version is written by a
// later lock holder, at higher positions, so the feed is in version order
// for every stream. Writers that bypass the lock (raw INSERTs) would break
// this; all writes go through Append.
//
// The lock serialises commits, so PostgreSQL cannot share one WAL flush
// between them. To keep guarantee 7 (concurrent appends share a sync) one
// committer goroutine per Store gathers the appends waiting at the time into
// one transaction with a single INSERT and one flush (see append.go).
// Several processes over one schema take turns, one group at a time.
//
// # Waiting
//
// WaitForEvents wakes on the store's own commits, on NOTIFY from other
// stores over the schema (each append transaction notifies, with the new
// head), and on a poll of the head every PollInterval, so that a lost
// notification, or a writer that sends none, never stalls a tailer.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/internal/pgmigrate"
)

// Config configures Open. URL is required.
type Config struct {
	// URL is a PostgreSQL connection string, e.g.
	// "postgres://user:pass@host:5432/db?sslmode=disable".
	URL string
	// Schema holds the store's tables (default "public"). It is created if
	// missing. Stores over different schemas of one database are independent.
	Schema string
	// Logger receives the store's logs (default: discarded).
	Logger *slog.Logger
	// MaxConns caps the connection pool (default: pgxpool's, or pool_max_conns
	// in URL). The store also opens one listening connection of its own the
	// first time WaitForEvents is called.
	MaxConns int32
	// MaxBatchAppends caps how many concurrent appends share one transaction
	// (default 256).
	MaxBatchAppends int
	// PollInterval is how often waiters re-read the head when no
	// notification arrives (default 200ms).
	PollInterval time.Duration
	// CommitTimeout bounds one append transaction, lock wait included
	// (default 30s).
	CommitTimeout time.Duration
}

// Store is the PostgreSQL event store. It is safe for concurrent use; several
// Stores, in one process or many, may share a schema.
type Store struct {
	cfg     Config
	log     *slog.Logger
	pool    *pgxpool.Pool
	lockKey int64  // the append lock (pg_advisory_xact_lock), per schema
	channel string // the NOTIFY channel, per schema
	sql     statements

	// mu guards closed and keeps the pool open while a call uses it: every
	// method holds it shared, Close holds it exclusively.
	mu     sync.RWMutex
	closed bool

	reqs chan *appendReq
	stop chan struct{} // closed by Close: the committer must exit
	done chan struct{} // closed by the committer when it has exited

	// head is the highest position known to be committed (own commits,
	// notifications, polls). It only grows.
	head   atomic.Uint64
	notify eventstore.Broadcaster // whenever head grows, and on Close

	listenOnce   sync.Once
	listenCancel context.CancelFunc
	listenDone   chan struct{}
}

var (
	_ eventstore.Store           = (*Store)(nil)
	_ eventstore.Waiter          = (*Store)(nil)
	_ eventstore.CheckpointStore = (*Store)(nil)
)

// statements are the store's SQL, with the schema's tables spelt out.
type statements struct {
	durable, lock, versions, lookupIDs string
	insert, notify                     string
	load, readAll, head, selectCols    string
	loadCheckpoint, saveCheckpoint     string
	events                             string // the quoted table name, for Query
}

// insertSQL inserts a group's rows, given as one array per column (tags
// flattened into $11: row i's tags are $11[$12[i]:$13[i]]).
const insertSQL = `INSERT INTO %s (position, event_id, stream_id, version, type, occurred_at,
	actor_id, actor_role, correlation_id, causation_id, tags, data, append_index, append_size)
SELECT e.position, e.id, e.stream_id, e.version, e.type, e.occurred_at, e.actor_id, e.actor_role,
	e.correlation_id, e.causation_id, ($11::text[])[e.tag_lo:e.tag_hi], e.data, e.append_index, e.append_size
FROM unnest($1::int8[], $2::uuid[], $3::text[], $4::int8[], $5::text[], $6::timestamptz[], $7::text[],
	$8::text[], $9::text[], $10::text[], $12::int4[], $13::int4[], $14::bytea[], $15::int4[], $16::int4[])
	AS e(position, id, stream_id, version, type, occurred_at, actor_id, actor_role, correlation_id,
		causation_id, tag_lo, tag_hi, data, append_index, append_size)`

// Open connects to PostgreSQL, applies the migrations and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("postgres: Config.URL is required")
	}
	if cfg.Schema == "" {
		cfg.Schema = "public"
	}
	if len(cfg.Schema) > 63 || strings.ContainsRune(cfg.Schema, 0) {
		return nil, fmt.Errorf("postgres: invalid schema name %q", cfg.Schema)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBatchAppends <= 0 {
		cfg.MaxBatchAppends = 256
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 30 * time.Second
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse URL: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	log := cfg.Logger.With("component", "eventstore/postgres", "schema", cfg.Schema)

	if err := migrate(ctx, pcfg.ConnConfig, cfg.Schema, log); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{
		cfg:     cfg,
		log:     log,
		pool:    pool,
		lockKey: pgmigrate.HashKey("examhall/eventstore/append\x00" + cfg.Schema),
		channel: fmt.Sprintf("examhall_events_%016x", uint64(pgmigrate.HashKey("examhall/eventstore/notify\x00"+cfg.Schema))),
		sql:     buildStatements(cfg.Schema),
		reqs:    make(chan *appendReq, cfg.MaxBatchAppends),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	var head int64
	if err := pool.QueryRow(ctx, s.sql.head).Scan(&head); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: read head: %w", err)
	}
	s.head.Store(uint64(head))
	go s.commitLoop()
	log.Info("event store opened", "head", head)
	return s, nil
}

func buildStatements(schema string) statements {
	events := pgx.Identifier{schema, "events"}.Sanitize()
	checkpoints := pgx.Identifier{schema, "checkpoints"}.Sanitize()
	const cols = `position, event_id::text, stream_id, version, type, occurred_at, actor_id, actor_role,
		correlation_id, causation_id, tags, data`
	return statements{
		events:     events,
		selectCols: cols,
		durable:    `SELECT set_config('synchronous_commit', 'on', true) WHERE current_setting('synchronous_commit') = 'off'`,
		lock:       `SELECT pg_advisory_xact_lock($1)`,
		versions: fmt.Sprintf(`SELECT s.stream_id, coalesce((SELECT max(e.version) FROM %s e WHERE e.stream_id = s.stream_id), 0)
			FROM unnest($1::text[]) AS s(stream_id)`, events),
		lookupIDs: fmt.Sprintf(`SELECT event_id::text, stream_id, version, position, append_index, append_size
			FROM %s WHERE event_id = ANY($1::uuid[])`, events),
		insert:         fmt.Sprintf(insertSQL, events),
		notify:         `SELECT pg_notify($1, $2)`,
		load:           fmt.Sprintf(`SELECT %s FROM %s WHERE stream_id = $1 AND version >= $2 ORDER BY version`, cols, events),
		readAll:        fmt.Sprintf(`SELECT %s FROM %s WHERE position > $1 ORDER BY position LIMIT $2`, cols, events),
		head:           fmt.Sprintf(`SELECT coalesce(max(position), 0) FROM %s`, events),
		loadCheckpoint: fmt.Sprintf(`SELECT position FROM %s WHERE name = $1`, checkpoints),
		saveCheckpoint: fmt.Sprintf(`INSERT INTO %s (name, position) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`, checkpoints),
	}
}

// Schema is the schema the store's tables live in.
func (s *Store) Schema() string { return s.cfg.Schema }

// Close stops the committer (queued appends fail with ErrClosed), waits for
// running calls, stops the listener and closes the pool. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	close(s.stop)
	<-s.done
	s.listenOnce.Do(func() {}) // no listener may start from now on
	if s.listenCancel != nil {
		s.listenCancel()
		<-s.listenDone
	}
	s.notify.Close() // wake every waiter; they see closed
	s.pool.Close()
	s.log.Info("event store closed")
	return nil
}

// acquire takes the shared lock unless the store is closed.
func (s *Store) acquire() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return eventstore.ErrClosed
	}
	return nil
}

func (s *Store) release() { s.mu.RUnlock() }

// dbPosition converts a port position to the bigint column's range.
func dbPosition(p uint64) int64 {
	if p > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(p)
}

// Load returns the stream's events with Version >= fromVersion, in order.
func (s *Store) Load(ctx context.Context, streamID string, fromVersion int64) ([]eventstore.Record, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	recs, err := s.queryRecords(ctx, s.sql.load, streamID, max(fromVersion, 1))
	if err != nil {
		return nil, fmt.Errorf("postgres: load %s: %w", streamID, err)
	}
	return recs, nil
}

// ReadAll reads the global feed after afterPosition, in position order. Since
// positions become visible in increasing order (see the package comment),
// this never skips an event committed late.
func (s *Store) ReadAll(ctx context.Context, afterPosition uint64, limit int) ([]eventstore.Record, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	if limit <= 0 {
		limit = eventstore.DefaultQueryLimit
	}
	recs, err := s.queryRecords(ctx, s.sql.readAll, dbPosition(afterPosition), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read all after %d: %w", afterPosition, err)
	}
	if n := len(recs); n > 0 {
		s.advance(recs[n-1].Position)
	}
	return recs, nil
}

// Query answers audit queries; see eventstore.Filter.
func (s *Store) Query(ctx context.Context, f eventstore.Filter) ([]eventstore.Record, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	limit := f.EffectiveLimit()
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.StreamID != "" {
		add("stream_id = $%d", f.StreamID)
	}
	if f.ActorID != "" {
		add("actor_id = $%d", f.ActorID)
	}
	if f.Type != "" {
		add("type = $%d", f.Type)
	}
	if len(f.Tags) > 0 {
		add("tags @> $%d::text[]", f.Tags) // every tag; the GIN index answers it
	}
	if !f.From.IsZero() {
		add("occurred_at >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("occurred_at < $%d", f.To)
	}
	if f.AfterPosition > 0 {
		add("position > $%d", dbPosition(f.AfterPosition))
	}
	q := "SELECT " + s.sql.selectCols + " FROM " + s.sql.events
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	q += fmt.Sprintf(" ORDER BY position LIMIT $%d", len(args))
	recs, err := s.queryRecords(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: query %+v: %w", f, err)
	}
	return recs, nil
}

func (s *Store) queryRecords(ctx context.Context, sql string, args ...any) ([]eventstore.Record, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []eventstore.Record
	for rows.Next() {
		var (
			r   eventstore.Record
			pos int64
		)
		if err := rows.Scan(&pos, &r.EventID, &r.StreamID, &r.Version, &r.Type, &r.OccurredAt, &r.ActorID,
			&r.ActorRole, &r.CorrelationID, &r.CausationID, &r.Tags, &r.Data); err != nil {
			return nil, err
		}
		r.Position = uint64(pos)
		r.OccurredAt = r.OccurredAt.UTC()
		if len(r.Tags) == 0 {
			r.Tags = nil
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Head is the position of the last committed event, which is the last one
// ReadAll can return: positions become visible in order.
func (s *Store) Head(ctx context.Context) (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	return s.readHead(ctx)
}

func (s *Store) readHead(ctx context.Context) (uint64, error) {
	var head int64
	if err := s.pool.QueryRow(ctx, s.sql.head).Scan(&head); err != nil {
		return 0, fmt.Errorf("postgres: read head: %w", err)
	}
	s.advance(uint64(head))
	return uint64(head), nil
}

// LoadCheckpoint returns the named checkpoint, 0 when it was never saved.
func (s *Store) LoadCheckpoint(ctx context.Context, name string) (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	var p int64
	err := s.pool.QueryRow(ctx, s.sql.loadCheckpoint, name).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: load checkpoint %q: %w", name, err)
	}
	return uint64(p), nil
}

// SaveCheckpoint stores the named checkpoint (committed before it returns).
func (s *Store) SaveCheckpoint(ctx context.Context, name string, position uint64) error {
	if name == "" {
		return errors.New("postgres: save checkpoint: empty name")
	}
	if position > math.MaxInt64 {
		return fmt.Errorf("postgres: save checkpoint %q: position %d out of range", name, position)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	if _, err := s.pool.Exec(ctx, s.sql.saveCheckpoint, name, int64(position)); err != nil {
		return fmt.Errorf("postgres: save checkpoint %q: %w", name, err)
	}
	return nil
}
