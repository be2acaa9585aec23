// Package pgmigrate applies a package's embedded SQL migrations to one
// PostgreSQL schema with goose, safely when several processes start at once.
// The event store and the read models each keep their own migrations and
// their own goose history table, so they may share a schema.
package pgmigrate

import (
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"

	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
)

// Migrations names a set of migrations.
type Migrations struct {
	// Name identifies the set in the advisory lock key and in errors
	// ("eventstore", "pgread").
	Name string
	// Files holds the *.sql files: at its root, or in Dir (a package's
	// embedded "migrations" directory).
	Files fs.FS
	Dir   string
	// VersionTable is goose's history table (goose's default when empty).
	VersionTable string
}

// Up creates the schema if needed and applies the pending migrations,
// holding a session advisory lock (per set and schema) throughout, so that
// processes opening at the same time migrate one after the other: the
// others then find nothing pending.
func Up(ctx context.Context, base *pgx.ConnConfig, schema string, m Migrations, log *slog.Logger) error {
	lockConn, err := pgx.ConnectConfig(ctx, base.Copy())
	if err != nil {
		return fmt.Errorf("%s: migrate: connect: %w", m.Name, err)
	}
	defer func() { _ = lockConn.Close(context.Background()) }() // also releases the lock
	key := HashKey("examhall/" + m.Name + "/migrate\x00" + schema)
	if _, err := lockConn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("%s: migrate: take the migration lock: %w", m.Name, err)
	}
	defer func() { _, _ = lockConn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", key) }()

	var exists bool
	if err := lockConn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return fmt.Errorf("%s: migrate: %w", m.Name, err)
	}
	if !exists {
		if _, err := lockConn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("%s: migrate: create schema %q: %w", m.Name, schema, err)
		}
	}

	// goose works through database/sql; its connections resolve the
	// migrations' unqualified names, and goose's version table, in schema.
	cfg := base.Copy()
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	db.SetMaxOpenConns(1)
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true), // only our SQL files, whatever else the binary registers
		goose.WithSlog(log),
	}
	dialect := goose.DialectPostgres
	if m.VersionTable != "" {
		store, err := database.NewStore(database.DialectPostgres, m.VersionTable)
		if err != nil {
			return fmt.Errorf("%s: migrate: %w", m.Name, err)
		}
		opts, dialect = append(opts, goose.WithStore(store)), ""
	}
	files := m.Files
	if m.Dir != "" {
		if files, err = fs.Sub(m.Files, m.Dir); err != nil {
			return fmt.Errorf("%s: migrate: %w", m.Name, err)
		}
	}
	p, err := goose.NewProvider(dialect, db, files, opts...)
	if err != nil {
		return fmt.Errorf("%s: migrate: %w", m.Name, err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("%s: migrate schema %q: %w", m.Name, schema, err)
	}
	for _, r := range results {
		log.Info("migration applied", "set", m.Name, "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// CheckTarget reports what is wrong with a PostgreSQL URL and schema name
// that a package of ours (name, in the messages) migrates and connects to:
// the shared part of its Config.Validate.
func CheckTarget(name, url, schema string) []error {
	var errs []error
	if strings.TrimSpace(url) == "" {
		errs = append(errs, fmt.Errorf("%s: Config.URL is required", name))
	} else if _, err := pgxpool.ParseConfig(url); err != nil {
		errs = append(errs, fmt.Errorf("%s: Config.URL: %w", name, err))
	}
	if len(schema) > 63 || strings.ContainsRune(schema, 0) {
		errs = append(errs, fmt.Errorf("%s: invalid schema name %q", name, schema))
	}
	return errs
}

// HashKey maps a name to a 64-bit advisory lock key.
func HashKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return int64(h.Sum64())
}
