package cassandra

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
	"github.com/examhall/exam/internal/cassandratest"
)

// The tests need a real Cassandra (internal/cassandratest). They never
// skip: without one they fail.

func testConfig(t testing.TB, keyspace string) Config {
	return Config{
		Hosts:             cassandratest.Hosts(t),
		Keyspace:          keyspace,
		ReplicationFactor: 1,
		Consistency:       "QUORUM",
		FeedDelay:         500 * time.Millisecond,
		AbandonAfter:      10 * time.Second,
	}
}

// openStore opens a store, closed when the test ends.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(keyspace %s): %v", cfg.Keyspace, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

var (
	sharedOnce sync.Once
	sharedKS   string
)

// TestMain drops the shared keyspace after the package's tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if sharedKS != "" {
		if err := cassandratest.DropKeyspace(cassandratest.HostsStarted(), sharedKS); err != nil {
			fmt.Fprintln(os.Stderr, "drop the shared test keyspace:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// sharedKeyspace is one keyspace for the whole package's tests, made once:
// creating one costs a dozen schema changes. The suite's subtests use
// random ids, so they may share it, like processes sharing a cluster.
func sharedKeyspace(t *testing.T) string {
	sharedOnce.Do(func() {
		sharedKS = "estest_" + strings.ReplaceAll(time.Now().UTC().Format("150405.000"), ".", "_")
		openStore(t, testConfig(t, sharedKS)).Close()
	})
	return sharedKS
}

func TestConformance(t *testing.T) {
	ks := sharedKeyspace(t)
	eventstoretest.Run(t, eventstoretest.Harness{
		New: func(t *testing.T) eventstore.Store {
			if strings.HasSuffix(t.Name(), "/WaiterWakesOnClose") {
				// Expects no other writer to wake its waiter before Close.
				return openStore(t, testConfig(t, cassandratest.Keyspace(t, "estest_own_")))
			}
			return openStore(t, testConfig(t, ks))
		},
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return openStore(t, testConfig(t, s.(*Store).Keyspace()))
		},
	})
}
