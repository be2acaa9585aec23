package platform

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/examhall/exam/eventstore"
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
	targets := map[string][]projections.DurableProjection{}
	for _, p := range []projections.DurableProjection{rm.Catalog(), rm.Users(), rm.Results()} {
		for _, c := range p.Categories() {
			targets[c] = append(targets[c], p)
		}
	}
	head, err := store.Head(ctx)
	if err != nil {
		return 0, err
	}
	var after, read uint64
	for after < head {
		recs, err := store.ReadAll(ctx, after, 2000)
		if err != nil {
			return read, err
		}
		if len(recs) == 0 {
			break
		}
		for _, rec := range recs {
			for _, p := range targets[eventstore.Category(rec.StreamID)] {
				if err := p.ApplyRecord(ctx, rec, projections.Delivery{Offset: -1}); err != nil {
					return read, err
				}
			}
		}
		read += uint64(len(recs))
		after = recs[len(recs)-1].Position
		if progress != nil {
			progress(after, head)
		}
	}
	return read, nil
}
