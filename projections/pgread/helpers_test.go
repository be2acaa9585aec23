package pgread_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/internal/pgtest"
	"github.com/examhall/exam/projections"
	"github.com/examhall/exam/projections/pgread"
)

// The tests need a real PostgreSQL (internal/pgtest). They never skip:
// without one they fail.
func testURL() string { return pgtest.URL() }

func connect(t testing.TB) *pgx.Conn { return pgtest.Connect(t) }

func newSchema(t testing.TB) string { return pgtest.NewSchema(t, "pgread_test_") }

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
