package readmodeltest_test

import (
	"context"
	"testing"
	"time"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
	"github.com/examhall/exam/projections/readmodeltest"
)

// inMemory is the embedded mode's read side as the suite sees it: one
// Runner (which applies each stream version once) over the Catalog and the
// Results.
type inMemory struct {
	runner  *projections.Runner
	catalog *projections.Catalog
	results *projections.Results
	*projections.InMemory
}

func newInMemory(*testing.T) readmodeltest.Model {
	c, r := projections.NewCatalog(), projections.NewResults()
	return &inMemory{runner: projections.NewRunner(nil, c, r), catalog: c, results: r,
		InMemory: &projections.InMemory{Catalog: c, Results: r}}
}

func (m *inMemory) Apply(ctx context.Context, rec eventstore.Record, _ projections.Delivery) error {
	return m.runner.ApplyRecord(ctx, rec)
}

func (m *inMemory) ExamHead(_ context.Context, id string) (int64, bool, error) {
	e, ok := m.catalog.Exam(id)
	if !ok {
		return 0, false, nil
	}
	return e.Version, true, nil
}

func (m *inMemory) DueExams(_ context.Context, now time.Time) ([]string, error) {
	return m.catalog.DueExams(now), nil
}

func (m *inMemory) ExamsNeedingGrading(context.Context) ([]string, error) {
	return m.catalog.ExamsNeedingGrading(), nil
}

func TestInMemory(t *testing.T) {
	readmodeltest.Run(t, readmodeltest.Harness{New: newInMemory})
}
