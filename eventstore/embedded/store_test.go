package embedded

import (
	"testing"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
)

// testOptions keeps pebble small: the suite opens a store per subtest.
var testOptions = Options{MemTableSize: 4 << 20, CacheSize: 8 << 20}

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, testOptions)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Harness{
		New: func(t *testing.T) eventstore.Store { return openTest(t, t.TempDir()) },
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			es := s.(*Store)
			if err := es.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return openTest(t, es.Dir())
		},
	})
}
