package platform_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/cmd/platform"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
)

// distributedStack gives a test fresh PostgreSQL schemas (event store and
// read models, dropped at the end) and a kfake cluster, and returns config
// and open for processes of one distributed platform over them: config
// builds a process's configuration with the given roles, open starts it
// (closed at the end). redisURL may be empty.
func distributedStack(t *testing.T, prefix, redisURL string) (config func(roles ...string) platform.Config, open func(roles ...string) *platform.Platform) {
	t.Helper()
	ctx := context.Background()
	url := postgresURL()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("PostgreSQL is required (scripts/ensure-postgres.sh): %v", err)
	}
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	events, reads := prefix+"_ev_"+suffix, prefix+"_rm_"+suffix
	t.Cleanup(func() {
		for _, s := range []string{events, reads} {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+s+" CASCADE")
		}
		_ = conn.Close(context.Background())
	})
	kafka, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kafka.Close)
	config = func(roles ...string) platform.Config {
		cfg := platform.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.EventStore, cfg.EventStorePostgresURL, cfg.EventStorePostgresSchema = platform.EventStorePostgres, url, events
		cfg.ReadModelPostgresURL, cfg.ReadModelPostgresSchema = url, reads
		cfg.KafkaBrokers, cfg.KafkaPartitions = kafka.ListenAddrs(), 4
		cfg.RedisURL = redisURL
		var err error
		if cfg.Roles, err = platform.ParseRoles(strings.Join(roles, ",")); err != nil {
			t.Fatal(err)
		}
		cfg.JWTSecret = "shared-secret-of-at-least-32-characters!"
		cfg.AdminEmail, cfg.AdminPassword = "admin@school.test", "admin-pass-1"
		cfg.Argon2 = auth.TestArgon2Params()
		cfg.GraderReconcile = time.Second
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		return cfg
	}
	open = func(roles ...string) *platform.Platform {
		p, err := platform.Open(ctx, config(roles...))
		if err != nil {
			t.Fatalf("open %v: %v", roles, err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	return config, open
}
