// Package pgread keeps the platform's read models in PostgreSQL, for the
// distributed mode: projectors consume events from the bus (one Kafka
// consumer group per projection) and fold them here, and every API replica
// reads the same rows.
//
// Three durable projections write the tables (see migrations/): Catalog
// (exam and level streams), Users (user streams) and Results (grade
// streams). Each folds with the same code as the in-memory read models —
// domain (*Exam).Apply and (*User).Apply on the stored aggregate,
// projections.FoldLevel and projections.FoldResult — so both modes answer
// alike; the conformance suite in projections/readmodeltest runs against
// both.
//
// # Exactly once per stream version
//
// ApplyRecord runs in one transaction. It first claims the record in
// rm_applied (projection, stream_id) with an upsert that only raises the
// version: if a version at least as new is stored, the record is a
// redelivery and no row changes. The claim also locks the stream's
// checkpoint row, so two projectors applying the same stream at once take
// turns, and the second sees the first's version. The rows and, when the
// record came from a partition, the partition's offset in rm_offsets follow
// in the same transaction: a failure anywhere leaves none of them.
//
// The rm_images table of the first migration is no longer used: question
// images moved to internal/imagestore (which copies its rows once), because
// the write side must not depend on a read model.
package pgread

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/examhall/exam/internal/pgmigrate"
)

// Config configures Open.
type Config struct {
	// URL is a PostgreSQL connection string, e.g.
	// "postgres://user:pass@host:5432/db?sslmode=disable".
	URL string
	// Schema holds the read-model tables (default "public"); it is created
	// if missing. It may be the event store's schema: the tables' names
	// (rm_*) and the migration history table differ.
	Schema string
	// Logger receives the store's logs (default: discarded).
	Logger *slog.Logger
	// MaxConns caps the connection pool (default: pgxpool's, or
	// pool_max_conns in URL).
	MaxConns int32
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	errs := pgmigrate.CheckTarget("pgread", c.URL, c.Schema)
	if c.MaxConns < 0 {
		errs = append(errs, errors.New("pgread: Config.MaxConns must not be negative"))
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() {
	if c.Schema == "" {
		c.Schema = "public"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Store is the PostgreSQL read-model store: the projections that write it,
// the queries that read it, and the image store. It is safe for concurrent
// use; any number of Stores, in any processes, may share a schema.
type Store struct {
	cfg  Config
	log  *slog.Logger
	pool *pgxpool.Pool
}

// Open validates the configuration, connects, creates the schema if needed
// and applies the pending migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("pgread: parse URL: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	log := cfg.Logger.With("component", "projections/pgread", "schema", cfg.Schema)
	if err := migrate(ctx, pcfg.ConnConfig, cfg.Schema, log); err != nil {
		return nil, err
	}
	// Every pooled connection resolves the tables in the schema, so the SQL
	// below names them unqualified.
	pcfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{cfg.Schema}.Sanitize()
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("pgread: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgread: connect: %w", err)
	}
	log.Info("read-model store opened")
	return &Store{cfg: cfg, log: log, pool: pool}, nil
}

// Close closes the pool; calls in flight finish first.
func (s *Store) Close() { s.pool.Close() }

// Schema names the schema that holds the tables.
func (s *Store) Schema() string { return s.cfg.Schema }

// Ping checks that the database answers (for readiness checks).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgread: ping: %w", err)
	}
	return nil
}

// Applied returns the last stream version a projection applied (0: none).
func (s *Store) Applied(ctx context.Context, projection, streamID string) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM rm_applied WHERE projection = $1 AND stream_id = $2`, projection, streamID).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pgread: applied %s %s: %w", projection, streamID, err)
	}
	return v, nil
}

// Offsets returns, per topic and partition, the last bus offset a
// projection applied: where its consumer group has certainly passed.
func (s *Store) Offsets(ctx context.Context, projection string) (map[string]map[int32]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT topic, "partition", "offset" FROM rm_offsets WHERE projection = $1`, projection)
	if err != nil {
		return nil, fmt.Errorf("pgread: offsets %s: %w", projection, err)
	}
	out := map[string]map[int32]int64{}
	var (
		topic string
		part  int32
		off   int64
	)
	_, err = pgx.ForEachRow(rows, []any{&topic, &part, &off}, func() error {
		if out[topic] == nil {
			out[topic] = map[int32]int64{}
		}
		out[topic][part] = off
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgread: offsets %s: %w", projection, err)
	}
	return out, nil
}

// queryDocs runs a query whose single column is a JSON document of type D
// (docs.go) and decodes every row into a new T.
func queryDocs[D, T any, PD storedDoc[D, T]](ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args ...any) ([]*T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	var out []*T
	var doc []byte
	_, err = pgx.ForEachRow(rows, []any{&doc}, func() error {
		d := PD(new(D))
		if err := json.Unmarshal(doc, d); err != nil {
			return fmt.Errorf("decode stored document: %w", err)
		}
		out = append(out, d.value())
		return nil
	})
	return out, err
}

// queryDoc reads one JSON document of type D into a new T; false when no
// row matches.
func queryDoc[D, T any, PD storedDoc[D, T]](ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, args ...any) (*T, bool, error) {
	var doc []byte
	err := q.QueryRow(ctx, sql, args...).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	d := PD(new(D))
	if err := json.Unmarshal(doc, d); err != nil {
		return nil, false, fmt.Errorf("decode stored document: %w", err)
	}
	return d.value(), true, nil
}

// Reset empties the read models and their per-stream checkpoints (not the
// partition offsets, which stay
// true lower bounds of what the projectors consumed), so a replay of the
// whole event log can rebuild them. Stop the projectors first.
func (s *Store) Reset(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `TRUNCATE rm_applied, rm_exams, rm_levels, rm_users, rm_results`); err != nil {
		return fmt.Errorf("pgread: reset: %w", err)
	}
	return nil
}
