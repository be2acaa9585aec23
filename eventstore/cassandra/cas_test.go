package cassandra

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
)

// casTimeout is what gocql returns when the coordinator gives up waiting
// for a Paxos round: the transaction may or may not have been applied.
var casTimeout = &gocql.RequestErrWriteTimeout{WriteType: "CAS"}

// TestCASTimeoutResolved: a stream transaction whose outcome is unknown is
// resolved by a SERIAL read, both when it was applied (the append succeeds
// once) and when it was not (the append is tried again and succeeds);
// never an error, never two copies, and the feed has the event once.
func TestCASTimeoutResolved(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		applied bool // whether the timed-out transaction ran
	}{{"applied", true}, {"not applied", false}} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, testConfig(t, sharedKeyspace(t)))
			var calls atomic.Int32
			s.casHook = func(run func() (bool, error)) (bool, error) {
				if calls.Add(1) > 1 {
					return run()
				}
				if tc.applied {
					if ok, err := run(); !ok || err != nil {
						t.Errorf("the transaction itself: %v, %v", ok, err)
					}
				}
				return false, casTimeout
			}
			stream := eventstoretest.NewStreamID("test")
			evs := []eventstore.Record{eventstoretest.NewEvent("test.cas.v1"), eventstoretest.NewEvent("test.cas.v1")}
			res, err := s.Append(t.Context(), stream, eventstore.NoStream, evs)
			if err != nil {
				t.Fatalf("Append with a CAS timeout: %v", err)
			}
			if res.FromVersion != 1 || res.ToVersion != 2 || res.Duplicate {
				t.Errorf("result %+v, want versions 1..2, not a duplicate", res)
			}
			wantCalls := int32(1)
			if !tc.applied {
				wantCalls = 2
			}
			if got := calls.Load(); got != wantCalls {
				t.Errorf("%d transactions, want %d", got, wantCalls)
			}
			recs, err := s.Load(t.Context(), stream, 1)
			if err != nil || len(recs) != 2 || recs[1].Position != res.LastPosition {
				t.Fatalf("Load = %d events, %v; want 2 ending at %d", len(recs), err, res.LastPosition)
			}
			// The feed delivers both, once.
			var seen []string
			deadline := time.Now().Add(15 * time.Second)
			after := recs[0].Position - 1
			for len(seen) < 2 && time.Now().Before(deadline) {
				got, err := s.ReadAll(t.Context(), after, 100)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range got {
					after = r.Position
					if r.StreamID == stream {
						seen = append(seen, r.EventID)
					}
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !slices.Equal(seen, []string{evs[0].EventID, evs[1].EventID}) {
				t.Fatalf("feed delivered %v, want %v", seen, []string{evs[0].EventID, evs[1].EventID})
			}
		})
	}
}

// TestCASTimeoutConflict: an unknown outcome resolved as "another writer
// holds the version" is a version conflict, not an error of the store.
func TestCASTimeoutConflict(t *testing.T) {
	t.Parallel()
	s := openStore(t, testConfig(t, sharedKeyspace(t)))
	other := openStore(t, testConfig(t, sharedKeyspace(t)))
	stream := eventstoretest.NewStreamID("test")
	s.casHook = func(run func() (bool, error)) (bool, error) {
		// Another writer wins the version while ours times out unapplied.
		if _, err := other.Append(t.Context(), stream, eventstore.NoStream, []eventstore.Record{eventstoretest.NewEvent("test.cas.v1")}); err != nil {
			t.Errorf("other append: %v", err)
		}
		return false, casTimeout
	}
	_, err := s.Append(t.Context(), stream, eventstore.NoStream, []eventstore.Record{eventstoretest.NewEvent("test.cas.v1")})
	if !errors.Is(err, eventstore.ErrVersionConflict) {
		t.Fatalf("err = %v, want a version conflict", err)
	}
}
