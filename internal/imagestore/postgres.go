package imagestore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/internal/pgmigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// versionTable is goose's history table for these migrations, so the images
// may share a schema with the read models and the event store.
const versionTable = "images_goose_version"

// PostgresConfig configures OpenPostgres.
type PostgresConfig struct {
	// URL is a PostgreSQL connection string.
	URL string
	// Schema holds the images table (default "public"); created if missing.
	Schema string
	// Logger receives the migration logs (default: discarded).
	Logger *slog.Logger
	// MaxConns caps the pool (default 4: uploads are rare, reads are cached
	// by clients through the content-addressed URL).
	MaxConns int32
}

// Validate reports every problem of the configuration at once.
func (c PostgresConfig) Validate() error {
	errs := pgmigrate.CheckTarget("imagestore", c.URL, c.Schema)
	if c.MaxConns < 0 {
		errs = append(errs, errors.New("imagestore: PostgresConfig.MaxConns must not be negative"))
	}
	return errors.Join(errs...)
}

// Postgres keeps images in the images table. Safe for concurrent use.
type Postgres struct{ pool *pgxpool.Pool }

// OpenPostgres migrates the schema and opens a pool.
func OpenPostgres(ctx context.Context, cfg PostgresConfig) (*Postgres, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Schema == "" {
		cfg.Schema = "public"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 4
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("imagestore: %w", err)
	}
	pc.MaxConns = cfg.MaxConns
	pc.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{cfg.Schema}.Sanitize()
	if err := pgmigrate.Up(ctx, pc.ConnConfig, cfg.Schema, pgmigrate.Migrations{Name: "imagestore", Files: migrationFiles, Dir: "migrations", VersionTable: versionTable}, cfg.Logger); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("imagestore: %w", err)
	}
	return &Postgres{pool: pool}, nil
}

// Close releases the pool.
func (s *Postgres) Close() { s.pool.Close() }

// Put stores data under id, which must be domain.ImageID(data).
func (s *Postgres) Put(ctx context.Context, id string, data []byte) error {
	if !domain.ValidImageID(id) {
		return fmt.Errorf("image store: invalid image id %q", id)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO images (id, data) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, data); err != nil {
		return fmt.Errorf("image store: put %s: %w", id, err)
	}
	return nil
}

// Get reads an image's bytes; an id never stored is domain.ErrNotFound.
func (s *Postgres) Get(ctx context.Context, id string) ([]byte, error) {
	if !domain.ValidImageID(id) {
		return nil, fmt.Errorf("image %q: %w", id, domain.ErrNotFound)
	}
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM images WHERE id = $1`, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("image %s: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("image store: get %s: %w", id, err)
	}
	return data, nil
}

// Exists reports whether an image is stored, without reading its bytes.
func (s *Postgres) Exists(ctx context.Context, id string) (bool, error) {
	if !domain.ValidImageID(id) {
		return false, nil
	}
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM images WHERE id = $1)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("image store: exists %s: %w", id, err)
	}
	return ok, nil
}
