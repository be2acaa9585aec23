package postgres

import (
	"context"
	"embed"
	"log/slog"

	"github.com/examhall/exam/internal/pgmigrate"
	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate creates the schema if needed and applies the pending migrations
// (goose, under an advisory lock: stores opening at the same time, in any
// process, migrate one after the other). The history is goose's default
// table.
func migrate(ctx context.Context, base *pgx.ConnConfig, schema string, log *slog.Logger) error {
	return pgmigrate.Up(ctx, base, schema, pgmigrate.Migrations{Name: "eventstore", Files: migrationFiles, Dir: "migrations"}, log)
}
