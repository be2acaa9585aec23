package cachetest_test

import (
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
		w.Subscribe(func(rec eventstore.Record) { runner.ApplyRecord(rec) })
		return cache
	}})
}
