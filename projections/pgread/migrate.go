package pgread

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// versionTable is goose's history table. It is not goose's default name so
// that the read models may share a schema with the event store, whose
// migrations keep their own history.
const versionTable = "rm_goose_version"

// migrate creates the schema if needed and applies the pending migrations
// with goose, holding a session advisory lock (per schema) throughout, so
// that projectors opening at the same time, in any process, migrate one
// after the other: the others then find nothing pending. (The approach of
// eventstore/postgres, with a lock key of its own.)
func migrate(ctx context.Context, base *pgx.ConnConfig, schema string, log *slog.Logger) error {
	lockConn, err := pgx.ConnectConfig(ctx, base.Copy())
	if err != nil {
		return fmt.Errorf("pgread: connect: %w", err)
	}
	defer func() { _ = lockConn.Close(context.Background()) }() // also releases the lock
	key := hashKey("examhall/pgread/migrate\x00" + schema)
	if _, err := lockConn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("pgread: migrate: take the migration lock: %w", err)
	}
	defer func() { _, _ = lockConn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", key) }()

	var exists bool
	if err := lockConn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return fmt.Errorf("pgread: migrate: %w", err)
	}
	if !exists {
		if _, err := lockConn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("pgread: migrate: create schema %q: %w", schema, err)
		}
	}

	// goose works through database/sql; its connections resolve the
	// migrations' unqualified names, and goose's version table, in schema.
	cfg := base.Copy()
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	db.SetMaxOpenConns(1)
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("pgread: migrate: %w", err)
	}
	store, err := database.NewStore(database.DialectPostgres, versionTable)
	if err != nil {
		return fmt.Errorf("pgread: migrate: %w", err)
	}
	p, err := goose.NewProvider("", db, sub,
		goose.WithStore(store),
		goose.WithDisableGlobalRegistry(true), // only our SQL files, whatever else the binary registers
		goose.WithSlog(log),
	)
	if err != nil {
		return fmt.Errorf("pgread: migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("pgread: migrate schema %q: %w", schema, err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// hashKey maps a name to a 64-bit advisory lock key.
func hashKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return int64(h.Sum64())
}
