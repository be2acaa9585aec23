package platform

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/auth/redisthrottle"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/internal/imagestore"
	"github.com/examhall/exam/projections"
	"github.com/examhall/exam/projections/pgread"
	"github.com/examhall/exam/projections/rediscache"
	"github.com/redis/go-redis/v9"
)

// redisPrefix starts every key the platform keeps in Redis.
const redisPrefix = "exam:"

// openSharedParts opens the distributed mode's shared adapters: the
// PostgreSQL read models, the image store (its own table in the same
// database and schema; not a read model: rebuilds leave it alone) and,
// when configured, Redis for student documents and login throttling.
func openSharedParts(ctx context.Context, cfg Config, log *slog.Logger) (*sharedParts, error) {
	rm, err := pgread.Open(ctx, pgread.Config{URL: cfg.ReadModelPostgresURL, Schema: cfg.ReadModelPostgresSchema, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open read models: %w", err)
	}
	images, err := imagestore.OpenPostgres(ctx, imagestore.PostgresConfig{URL: cfg.ReadModelPostgresURL, Schema: cfg.ReadModelPostgresSchema, Logger: log})
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("open image store: %w", err)
	}
	s := &sharedParts{
		readModel:   rm,
		projections: []projections.Projection{rm.Catalog(), rm.Users(), rm.Results()},
		images:      images,
		closers:     []func() error{func() error { rm.Close(); return nil }, func() error { images.Close(); return nil }},
	}
	if cfg.RedisURL == "" {
		s.newDocs = func(loader projections.ExamLoader) (studentDocs, projections.Projection, error) {
			return renderedDocs{readModel: rm, loader: loader}, nil, nil
		}
		return s, nil
	}
	client, err := openRedis(cfg, log)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	s.closers = append(s.closers, client.Close)
	if s.throttle, err = newRedisThrottle(cfg, client, log); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.newDocs = func(loader projections.ExamLoader) (studentDocs, projections.Projection, error) {
		cache, err := rediscache.New(rediscache.Config{Client: client, Prefix: redisPrefix, Source: rm, Fallback: loader, Render: projections.RenderStudentExam, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		return cache, cache.Warmer(), nil
	}
	return s, nil
}

// openRedis builds the client. Redis being down at start-up is not an
// error: every use of it falls back (documents from PostgreSQL, the
// replica's own login throttle) until it answers.
func openRedis(cfg Config, log *slog.Logger) (*redis.Client, error) {
	client, err := rediscache.NewClient(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("EXAM_REDIS_URL: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		log.Warn("redis unreachable at start-up; falling back until it answers", "err", err)
	}
	return client, nil
}

func newRedisThrottle(cfg Config, client *redis.Client, log *slog.Logger) (commands.LoginThrottle, error) {
	return redisthrottle.New(redisthrottle.Config{Client: client, Prefix: redisPrefix, Limits: auth.ThrottleConfig{Now: cfg.Now}, Logger: log})
}
