package platform

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/examhall/exam/projections"
	"github.com/examhall/exam/projections/pgread"
)

// openSharedParts opens the distributed mode's shared adapters: the
// PostgreSQL read models (and the image store in the same database) and,
// when configured, Redis for student documents and login throttling.
func openSharedParts(ctx context.Context, cfg Config, log *slog.Logger) (*sharedParts, error) {
	rm, err := pgread.Open(ctx, pgread.Config{URL: cfg.ReadModelPostgresURL, Schema: cfg.ReadModelPostgresSchema, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open read models: %w", err)
	}
	s := &sharedParts{
		readModel:   rm,
		projections: []projections.DurableProjection{rm.Catalog(), rm.Users(), rm.Results()},
		images:      rm.Images(),
		closers:     []func() error{func() error { rm.Close(); return nil }},
	}
	s.newDocs = func(loader projections.ExamLoader) (studentDocs, projections.DurableProjection, error) {
		return renderedDocs{readModel: rm, loader: loader}, nil, nil
	}
	return s, nil
}
