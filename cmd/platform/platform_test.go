package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/cmd/platform"
	"github.com/examhall/exam/internal/pgtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	c := platform.Defaults()
	c.HTTPAddr = "nonsense"
	c.EventStore = "postgres"
	c.JWTSecret = "short"
	c.AdminEmail = "a@b.test"
	err := c.Validate()
	for _, want := range []string{"EXAM_HTTP_ADDR", "EXAM_EVENTSTORE_POSTGRES_URL", "EXAM_JWT_SECRET", "EXAM_ADMIN_PASSWORD"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
	c = platform.Defaults()
	c.EventStore = "cassandra"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "EXAM_CASSANDRA_HOSTS") {
		t.Errorf("cassandra without hosts: %v", err)
	}
	c.CassandraHosts, c.CassandraConsistency, c.CassandraReplicationFactor, c.CassandraKeyspace = []string{"nohost"}, "SOME", 0, "Bad-Name"
	err = c.Validate()
	for _, want := range []string{"EXAM_CASSANDRA_HOSTS \"nohost\"", "consistency", "replication factor", "keyspace"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad cassandra settings: error %v does not mention %s", err, want)
		}
	}
	c.CassandraHosts, c.CassandraConsistency, c.CassandraReplicationFactor, c.CassandraKeyspace = []string{"127.0.0.1:9042"}, "quorum", 1, "examhall"
	if err := c.Validate(); err != nil {
		t.Errorf("good cassandra settings: %v", err)
	}
	if err := platform.Defaults().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

func TestFromEnvReadsTheVariables(t *testing.T) {
	env := map[string]string{"EXAM_EVENTSTORE": "postgres", "EXAM_EVENTSTORE_POSTGRES_URL": "postgres://x", "EXAM_HTTP_ADDR": "127.0.0.1:9999",
		"EXAM_LOG_LEVEL": "debug", "EXAM_ACCESS_TTL": "5m"}
	c, err := platform.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.EventStore != "postgres" || c.EventStorePostgresURL != "postgres://x" || c.HTTPAddr != "127.0.0.1:9999" ||
		c.LogLevel != slog.LevelDebug || c.AccessTTL != 5*time.Minute {
		t.Fatalf("config %+v", c)
	}
	cenv := map[string]string{"EXAM_EVENTSTORE": "cassandra", "EXAM_CASSANDRA_HOSTS": "127.0.0.1:9042, 127.0.0.2:9042",
		"EXAM_CASSANDRA_KEYSPACE": "exams", "EXAM_CASSANDRA_REPLICATION_FACTOR": "1", "EXAM_CASSANDRA_CONSISTENCY": "ONE"}
	c, err = platform.FromEnv(func(k string) string { return cenv[k] })
	if err != nil || len(c.CassandraHosts) != 2 || c.CassandraHosts[1] != "127.0.0.2:9042" || c.CassandraKeyspace != "exams" ||
		c.CassandraReplicationFactor != 1 || c.CassandraConsistency != "ONE" || c.Validate() != nil {
		t.Fatalf("cassandra config %+v, %v", c, err)
	}
	if _, err := platform.FromEnv(func(k string) string { return map[string]string{"EXAM_CASSANDRA_REPLICATION_FACTOR": "three"}[k] }); err == nil {
		t.Fatal("bad replication factor accepted")
	}
	if _, err := platform.FromEnv(func(k string) string { return map[string]string{"EXAM_ACCESS_TTL": "soon"}[k] }); err == nil {
		t.Fatal("bad duration accepted")
	}
}

func postgresURL() string { return pgtest.URL() }

// Two examd processes configured with EXAM_EVENTSTORE=postgres over one
// database serve one platform: what one writes, the other reads and acts on.
func TestTwoReplicasShareAPostgresEventStore(t *testing.T) {
	ctx := context.Background()
	url := postgresURL()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("PostgreSQL is required (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): %v", err)
	}
	schema := "platform_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		_ = conn.Close(context.Background())
	})
	open := func(name string) *httptest.Server {
		cfg := platform.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.EventStore, cfg.EventStorePostgresURL, cfg.EventStorePostgresSchema = platform.EventStorePostgres, url, schema
		cfg.JWTSecret = "shared-secret-of-at-least-32-characters!"
		cfg.AdminEmail, cfg.AdminPassword = "admin@school.test", "admin-pass-1"
		cfg.Argon2 = auth.TestArgon2Params()
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		p, err := platform.Open(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		srv := httptest.NewServer(p.Handler)
		t.Cleanup(func() { srv.Close(); _ = p.Close() })
		return srv
	}
	a, b := open("replica a"), open("replica b") // both bootstrap the admin: one user results

	call := func(srv *httptest.Server, method, path, token string, body any) (int, map[string]any) {
		t.Helper()
		var buf bytes.Buffer
		if body != nil {
			_ = json.NewEncoder(&buf).Encode(body)
		}
		req, _ := http.NewRequest(method, srv.URL+"/api/v1"+path, &buf)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, login := call(a, "POST", "/auth/login", "", map[string]string{"email": "admin@school.test", "password": "admin-pass-1"})
	if status != 200 {
		t.Fatalf("login on a: %d %v", status, login)
	}
	token := login["access_token"].(string)
	status, level := call(a, "POST", "/levels", token, map[string]string{"name": "Year 9"})
	if status != 201 {
		t.Fatalf("create level on a: %d %v", status, level)
	}
	// The token signed by a works on b (shared secret), and b's read models
	// follow the shared log to show the level created through a.
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, list := call(b, "GET", "/levels", token, nil)
		if status == 200 && strings.Contains(fmt.Sprint(list["items"]), level["id"].(string)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica b never saw the level: %d %v", status, list)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var admins int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+schema+".events WHERE type = 'user.registered.v1'").Scan(&admins); err != nil {
		t.Fatal(err)
	}
	if admins != 1 {
		t.Fatalf("%d admins registered by two bootstrapping replicas, want 1", admins)
	}
}
