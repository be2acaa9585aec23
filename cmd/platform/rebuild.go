package platform

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/examhall/exam/projections"
	"github.com/examhall/exam/projections/pgread"
)

// RebuildReadModels rebuilds the PostgreSQL read models from the whole event
// log: it empties them and replays every event through the same
// projections the projector role runs. Stop the projector role first; when
// it starts again it resumes from its consumer groups' offsets, and
// everything the replay already applied is skipped as a redelivery.
// progress, when set, gets (done, total) positions. It returns the number
// of events read.
func RebuildReadModels(ctx context.Context, cfg Config, progress func(done, total uint64)) (uint64, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	if !cfg.Distributed() {
		return 0, fmt.Errorf("rebuild: EXAM_READMODEL_POSTGRES_URL is not set (in-process read models are rebuilt at every start)")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	store, err := openEventStore(ctx, cfg, log)
	if err != nil {
		return 0, fmt.Errorf("open event store: %w", err)
	}
	defer store.Close()
	rm, err := pgread.Open(ctx, pgread.Config{URL: cfg.ReadModelPostgresURL, Schema: cfg.ReadModelPostgresSchema, Logger: log})
	if err != nil {
		return 0, fmt.Errorf("open read models: %w", err)
	}
	defer rm.Close()
	if err := rm.Reset(ctx); err != nil {
		return 0, err
	}
	// The same runner, and so the same failure policy, as the projector
	// role: a failed batch is retried until it applies or ctx ends.
	runner := projections.NewRunner(log, rm.Catalog(), rm.Users(), rm.Results())
	if _, err := runner.CatchUp(ctx, store, 0, progress); err != nil {
		return runner.Applied(), err
	}
	return runner.Applied(), nil
}
