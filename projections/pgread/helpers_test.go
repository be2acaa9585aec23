package pgread_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
	"github.com/examhall/exam/projections/pgread"
)

// The tests need a real PostgreSQL. They never skip: without one they fail.
const defaultTestURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func testURL() string {
	if u := os.Getenv("EXAM_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return defaultTestURL
}

// connect opens a plain connection to the test database, or fails the test
// saying how to start PostgreSQL.
func connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testURL())
	if err == nil {
		err = conn.Ping(ctx)
	}
	if err != nil {
		t.Fatalf("PostgreSQL is unreachable at %s: %v\n"+
			"These tests need a real server. Start the local one with:\n"+
			"    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"+
			"or point EXAM_TEST_POSTGRES_URL at another.", testURL(), err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// newSchema returns a fresh schema name, dropped (with everything in it)
// when the test ends.
func newSchema(t testing.TB) string {
	t.Helper()
	connect(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "pgread_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn := connect(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// openStore opens a store over a fresh schema, closed when the test ends.
func openStore(t testing.TB) *pgread.Store {
	t.Helper()
	return openStoreIn(t, newSchema(t))
}

func openStoreIn(t testing.TB, schema string) *pgread.Store {
	t.Helper()
	s, err := pgread.Open(context.Background(), pgread.Config{URL: testURL(), Schema: schema, MaxConns: 8})
	if err != nil {
		connect(t) // fails loudly if the server is down
		t.Fatalf("Open(schema %s): %v", schema, err)
	}
	t.Cleanup(s.Close)
	return s
}

// model is the store as the conformance suite sees it: records go to the
// projection that reads their category, as the bus's consumer groups would
// deliver them.
type model struct {
	*pgread.Store
	byCategory map[string]*pgread.Projection
}

func newModel(s *pgread.Store) *model {
	m := &model{Store: s, byCategory: map[string]*pgread.Projection{}}
	for _, p := range []*pgread.Projection{s.Catalog(), s.Users(), s.Results()} {
		for _, c := range p.Categories() {
			m.byCategory[c] = p
		}
	}
	return m
}

func (m *model) Apply(ctx context.Context, rec eventstore.Record, from projections.Delivery) error {
	p := m.byCategory[eventstore.Category(rec.StreamID)]
	if p == nil {
		return nil
	}
	return p.ApplyRecord(ctx, rec, from)
}
