package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
	"github.com/examhall/exam/internal/pgtest"
)

// The tests need a real PostgreSQL (internal/pgtest). They never skip:
// without one they fail.
func testURL() string { return pgtest.URL() }

func connect(t testing.TB) *pgx.Conn { return pgtest.Connect(t) }

func newSchema(t testing.TB) string { return pgtest.NewSchema(t, "eventstore_test_") }

func testConfig(schema string) Config {
	return Config{URL: testURL(), Schema: schema, MaxConns: 4}
}

// openStore opens a store over schema, closed when the test ends.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		connect(t).Close(context.Background()) // fails loudly if the server is down
		t.Fatalf("Open(schema %s): %v", cfg.Schema, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestConformance runs the port's suite, each subtest over a schema of its
// own. (Sharing one would be closer to several processes over one database,
// which the late-commit test covers, but WaiterWakesOnClose expects no other
// writer to wake its waiter before Close.)
func TestConformance(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Harness{
		New: func(t *testing.T) eventstore.Store { return openStore(t, testConfig(newSchema(t))) },
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return openStore(t, testConfig(s.(*Store).Schema()))
		},
	})
}

// TestMigrationsTwiceAndConcurrently: stores opening at once over a new
// schema, and opening again over a migrated one, all succeed, and the
// migrations are applied exactly once.
func TestMigrationsTwiceAndConcurrently(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	cfg := testConfig(schema)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*Store, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(t.Context(), cfg)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	again := openStore(t, cfg) // and once more, sequentially
	if _, err := again.Append(t.Context(), eventstoretest.NewStreamID("test"), eventstore.NoStream,
		[]eventstore.Record{eventstoretest.NewEvent("test.migrated.v1")}); err != nil {
		t.Fatalf("append after migrations: %v", err)
	}

	conn := connect(t)
	defer conn.Close(context.Background())
	var applied, versions int
	err := conn.QueryRow(t.Context(), "SELECT count(*), count(DISTINCT version_id) FROM "+
		pgx.Identifier{schema, "goose_db_version"}.Sanitize()+" WHERE version_id > 0 AND is_applied").Scan(&applied, &versions)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := migrationFiles.ReadDir("migrations")
	if applied != len(files) || versions != len(files) {
		t.Errorf("goose_db_version holds %d applied rows for %d versions, want %d each", applied, versions, len(files))
	}
}

// TestDataKeptExactly: the payload comes back byte for byte (no jsonb
// normalisation), nil stays nil, and a bad id or text is refused up front.
func TestDataKeptExactly(t *testing.T) {
	t.Parallel()
	s := openStore(t, testConfig(newSchema(t)))
	stream := eventstoretest.NewStreamID("test")
	evs := []eventstore.Record{
		eventstoretest.NewEvent("test.exact.v1"),
		eventstoretest.NewEvent("test.exact.v1"),
	}
	evs[0].Data = []byte(`{"b":1,  "a":[2,1],"b":3}`)
	evs[1].Data = nil
	if _, err := s.Append(t.Context(), stream, eventstore.NoStream, evs); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Load(t.Context(), stream, 1)
	if err != nil {
		t.Fatal(err)
	}
	if string(recs[0].Data) != string(evs[0].Data) || recs[1].Data != nil {
		t.Errorf("data = %q, %v; want %q, nil", recs[0].Data, recs[1].Data, evs[0].Data)
	}

	bad := []func(*eventstore.Record){
		func(r *eventstore.Record) { r.EventID = "0B6C2F0E-5D9F-4A55-9F2A-3F8A0F3C1C11" },
		func(r *eventstore.Record) { r.EventID = "not-a-uuid" },
		func(r *eventstore.Record) { r.Type = "nul\x00" },
		func(r *eventstore.Record) { r.Tags = []string{"bad utf-8 \xff"} },
	}
	for i, f := range bad {
		ev := eventstoretest.NewEvent("test.exact.v1")
		f(&ev)
		if _, err := s.Append(t.Context(), stream, eventstore.AnyVersion, []eventstore.Record{ev}); !errors.Is(err, eventstore.ErrInvalidAppend) {
			t.Errorf("bad event %d: %v, want ErrInvalidAppend", i, err)
		}
	}
}

func TestOpenFailsLoudly(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := Open(ctx, Config{URL: "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"}); err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	if _, err := Open(ctx, Config{}); err == nil {
		t.Fatal("Open without a URL succeeded")
	}
}
