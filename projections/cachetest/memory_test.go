package cachetest_test

import (
	"context"
	"testing"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
	"github.com/examhall/exam/projections/cachetest"
)

// TestStudentExamCache runs the suite against the in-process cache, fed as
// the Runner feeds it: the catalogue and the cache applying each record.
func TestStudentExamCache(t *testing.T) {
	t.Parallel()
	cachetest.Run(t, cachetest.Harness{New: func(t *testing.T, w *cachetest.World) cachetest.Cache {
		catalog := projections.NewCatalog()
		cache := projections.NewStudentExamCache(catalog, w, cachetest.Render)
		runner := projections.NewRunner(nil, catalog, cache)
		w.Subscribe(func(rec eventstore.Record) {
			if err := runner.ApplyRecord(context.Background(), rec); err != nil {
				t.Errorf("apply: %v", err)
			}
		})
		return cache
	}})
}
