package pgread

import (
	"context"
	"embed"
	"log/slog"

	"github.com/examhall/exam/internal/pgmigrate"
	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// versionTable is goose's history table. It is not goose's default name so
// that the read models may share a schema with the event store, whose
// migrations keep their own history.
const versionTable = "rm_goose_version"

// migrate creates the schema if needed and applies the pending migrations
// (goose, under an advisory lock of its own: projectors opening at the same
// time, in any process, migrate one after the other).
func migrate(ctx context.Context, base *pgx.ConnConfig, schema string, log *slog.Logger) error {
	return pgmigrate.Up(ctx, base, schema, pgmigrate.Migrations{Name: "pgread", Files: migrationFiles, Dir: "migrations", VersionTable: versionTable}, log)
}
