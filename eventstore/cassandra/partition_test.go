package cassandra

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
)

// smallBuckets opens a store whose streams are partitioned every 10
// versions, with appends of up to 10 events, so tests cross partition
// boundaries (and run appends over into the next range) all the time.
func smallBuckets(t *testing.T) *Store {
	s := openStore(t, testConfig(t, sharedKeyspace(t)))
	s.bucket, s.maxAppend = 10, 10
	return s
}

// TestPartitionBoundaries: appends of 1 to 10 events, from two stores in
// turn (each with its own idea of where the head is), land at the right
// versions across many partitions; Load from every version returns exactly
// the rest; no partition grows past bucket+maxAppend-1 rows.
func TestPartitionBoundaries(t *testing.T) {
	t.Parallel()
	stores := []*Store{smallBuckets(t), smallBuckets(t)}
	stream := eventstoretest.NewStreamID("test")
	sizes := []int{1, 3, 7, 10, 2, 9, 5, 10, 1, 8, 10, 10, 4, 6, 10, 1, 9, 2}
	var ids []string
	for i, n := range sizes {
		s := stores[i%2]
		evs := make([]eventstore.Record, n)
		for j := range evs {
			evs[j] = eventstoretest.NewEvent(testTypeFor("partition"))
			ids = append(ids, evs[j].EventID)
		}
		head := int64(len(ids) - n)
		res, err := s.Append(t.Context(), stream, head, evs)
		if err != nil {
			t.Fatalf("append %d (%d events at %d): %v", i, n, head, err)
		}
		if res.FromVersion != head+1 || res.ToVersion != head+int64(n) {
			t.Fatalf("append %d = %+v, want %d..%d", i, res, head+1, head+int64(n))
		}
		// A stale expected version is refused, also right after a boundary.
		stale := []eventstore.Record{eventstoretest.NewEvent(testTypeFor("partition"))}
		if _, err := stores[(i+1)%2].Append(t.Context(), stream, head, stale); !errors.Is(err, eventstore.ErrVersionConflict) {
			t.Fatalf("append %d: a second append at expected version %d: %v, want a conflict", i, head, err)
		}
	}
	total := int64(len(ids))
	for _, s := range stores {
		for from := int64(1); from <= total+1; from++ {
			recs, err := s.Load(t.Context(), stream, from)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(recs)) != total-from+1 {
				t.Fatalf("Load(from %d) = %d events, want %d", from, len(recs), total-from+1)
			}
			for i, r := range recs {
				if r.Version != from+int64(i) || r.EventID != ids[r.Version-1] {
					t.Fatalf("Load(from %d)[%d] = v%d %s, want v%d %s", from, i, r.Version, r.EventID, from+int64(i), ids[from-1+int64(i)])
				}
			}
		}
	}
	s := stores[0]
	parts := 0
	for p := int64(0); p <= s.partitionOf(total)+1; p++ {
		var n int
		if err := s.q(t.Context(), `SELECT count(*) FROM events WHERE stream_id = ? AND partition_nr = ?`, stream, p).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > int(s.bucket+s.maxAppend-1) {
			t.Errorf("partition %d holds %d rows", p, n)
		}
		if n > 0 {
			parts++
		}
	}
	if parts < int(total/s.bucket)-2 {
		t.Errorf("%d events in %d partitions", total, parts)
	}
}

// TestPartitionBoundariesRacing: writers appending batches of 1 to 10
// events at once with AnyVersion never overwrite or duplicate a version,
// whichever partition their append starts in.
func TestPartitionBoundariesRacing(t *testing.T) {
	t.Parallel()
	const writers, appends = 6, 8
	stream := eventstoretest.NewStreamID("test")
	var mu sync.Mutex
	var want []string
	var wg sync.WaitGroup
	for w := range writers {
		s := smallBuckets(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range appends {
				evs := make([]eventstore.Record, 1+(w*7+i*3)%10)
				for j := range evs {
					evs[j] = eventstoretest.NewEvent(testTypeFor("partition"))
				}
				res, err := s.Append(t.Context(), stream, eventstore.AnyVersion, evs)
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				if res.ToVersion-res.FromVersion+1 != int64(len(evs)) {
					t.Errorf("writer %d: %+v for %d events", w, res, len(evs))
				}
				mu.Lock()
				for _, ev := range evs {
					want = append(want, ev.EventID)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	recs, err := smallBuckets(t).Load(t.Context(), stream, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(recs))
	for i, r := range recs {
		if r.Version != int64(i+1) {
			t.Fatalf("version %d at index %d", r.Version, i)
		}
		got[i] = r.EventID
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("stream holds %d events, %d appended (or other ones)", len(got), len(want))
	}
}

func testTypeFor(what string) string { return "test." + what + ".v1" }
