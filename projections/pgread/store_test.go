package pgread_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	pgstore "github.com/examhall/exam/eventstore/postgres"
	"github.com/examhall/exam/projections/pgread"
	"github.com/examhall/exam/projections/readmodeltest"
)

// TestConformance runs the read-model suite, each subtest over a schema of
// its own.
func TestConformance(t *testing.T) {
	readmodeltest.Run(t, readmodeltest.Harness{
		New: func(t *testing.T) readmodeltest.Model { return newModel(openStore(t)) },
	})
}

func TestConfigValidate(t *testing.T) {
	err := pgread.Config{Schema: strings.Repeat("s", 64), MaxConns: -1}.Validate()
	for _, want := range []string{"URL is required", "invalid schema name", "MaxConns"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if err := (pgread.Config{URL: testURL()}).Validate(); err != nil {
		t.Errorf("Validate(valid) = %v", err)
	}
	if _, err := pgread.Open(context.Background(), pgread.Config{}); err == nil {
		t.Error("Open accepted an empty config")
	}
	// A server that is not there fails Open, it does not hang.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pgread.Open(ctx, pgread.Config{URL: "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"}); err == nil {
		t.Error("Open succeeded against a closed port")
	}
}

// TestMigrations: stores opening one schema at once migrate once; opening
// again finds nothing to do; the read models may share a schema with the
// event store, whose migration history is its own.
func TestMigrations(t *testing.T) {
	schema := newSchema(t)
	es, err := pgstore.Open(context.Background(), pgstore.Config{URL: testURL(), Schema: schema, MaxConns: 2})
	if err != nil {
		t.Fatalf("event store Open: %v", err)
	}
	defer es.Close()

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := pgread.Open(context.Background(), pgread.Config{URL: testURL(), Schema: schema, MaxConns: 2})
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Open: %v", err)
	}
	s := openStoreIn(t, schema)
	conn := connect(t)
	var applied int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{schema, "rm_goose_version"}.Sanitize()+
		" WHERE version_id > 0 AND is_applied").Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != 1 {
		t.Errorf("read-model migrations recorded %d times, want 1", applied)
	}
	var tables int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename IN
		('events', 'rm_applied', 'rm_offsets', 'rm_exams', 'rm_levels', 'rm_users', 'rm_results', 'rm_images')`, schema).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 8 {
		t.Errorf("found %d of the 8 tables (event store and read models) in the shared schema", tables)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	// The event store still works in the shared schema.
	if _, err := es.Head(t.Context()); err != nil {
		t.Errorf("event store Head: %v", err)
	}
}
