//go:build cassandrafault

// The fault test needs a 3-node cluster and kills one of its nodes, so it
// is not part of the ordinary suite; run it with
//
//	EXAM_TEST_CASSANDRA_DIR=/tmp/examhall-cassandra3 scripts/cassandra.sh start 3
//	EXAM_TEST_CASSANDRA_DIR=/tmp/examhall-cassandra3 EXAM_TEST_CASSANDRA_HOSTS=127.0.0.1:9042,127.0.0.2:9042,127.0.0.3:9042 \
//	  go test -tags cassandrafault -run TestNodeKilled -count=1 -v ./eventstore/cassandra/
//
// (scripts/cassandra-fault.sh does all of it).

package cassandra

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
	"github.com/examhall/exam/internal/cassandratest"
)

// TestNodeKilled: with RF 3 and QUORUM, appends keep succeeding while one
// of three nodes is killed (SIGKILL) mid-run; nothing acknowledged is lost
// and the feed delivers every acknowledged event exactly once.
func TestNodeKilled(t *testing.T) {
	hosts := cassandratest.Hosts(t)
	if len(hosts) < 3 {
		t.Fatalf("the fault test needs 3 nodes in EXAM_TEST_CASSANDRA_HOSTS, got %v", hosts)
	}
	// Not dropped at the end: Cassandra 5.0.6 fails to drop a table whose
	// commit log a killed node replayed ("Unknown CF" in forceRecycleAll),
	// leaving that node's schema stuck; scripts/cassandra-fault.sh wipes
	// the throwaway cluster instead.
	cfg := testConfig(t, "estest_fault_"+strings.ReplaceAll(uuid.NewString()[:13], "-", ""))
	cfg.ReplicationFactor = 3
	cfg.FeedDelay = time.Second
	cfg.AbandonAfter = 20 * time.Second
	s := openStore(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	const writers, nstream = 16, 32
	run := 45 * time.Second
	killAt := 12 * time.Second
	var names []string
	streams := map[string]bool{}
	for range nstream {
		st := eventstoretest.NewStreamID("test")
		names = append(names, st)
		streams[st] = true
	}
	var (
		mu      sync.Mutex
		acked   = map[string]eventstore.AppendResult{}
		failed  atomic.Int64
		latency []time.Duration
		wg      sync.WaitGroup
	)
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Since(start) < run; i++ {
				ev := eventstoretest.NewEvent("test.fault.v1")
				t0 := time.Now()
				res, err := s.Append(ctx, names[(w+i*writers)%nstream], eventstore.AnyVersion, []eventstore.Record{ev})
				if err != nil {
					failed.Add(1)
					t.Errorf("writer %d: append at %v: %v", w, time.Since(start).Round(time.Millisecond), err)
					continue
				}
				mu.Lock()
				acked[ev.EventID] = res
				latency = append(latency, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	go func() {
		select {
		case <-time.After(killAt):
		case <-ctx.Done():
			return
		}
		t.Logf("SIGKILL node 3 at %v with %d appends acknowledged", time.Since(start).Round(time.Millisecond), count(&mu, acked))
		script(t, "kill", "3")
	}()
	t.Cleanup(func() { script(t, "restart", "3", "3") })

	// A tailer follows the feed meanwhile.
	seen := map[string]uint64{}
	var after uint64
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()
	var drainUntil time.Time
	for {
		recs, err := s.ReadAll(ctx, after, 500)
		if err != nil {
			t.Fatalf("tailer: ReadAll(%d) at %v: %v", after, time.Since(start).Round(time.Millisecond), err)
		}
		for _, r := range recs {
			if r.Position <= after {
				t.Fatalf("tailer: position %d after %d", r.Position, after)
			}
			after = r.Position
			if !streams[r.StreamID] {
				continue
			}
			if _, dup := seen[r.EventID]; dup {
				t.Fatalf("tailer: %s delivered twice", r.EventID)
			}
			seen[r.EventID] = r.Position
		}
		if len(recs) > 0 {
			continue
		}
		select {
		case <-writersDone:
			if drainUntil.IsZero() {
				drainUntil = time.Now().Add(30 * time.Second)
			}
		default:
		}
		if !drainUntil.IsZero() && (len(seen) >= count(&mu, acked) || time.Now().After(drainUntil)) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, res := range acked {
		if p, ok := seen[id]; !ok || p != res.LastPosition {
			t.Errorf("acknowledged event %s (position %d) delivered at %d, %v", id, res.LastPosition, p, ok)
		}
	}
	// Nothing acknowledged is lost from the streams either.
	total := 0
	for _, st := range names {
		recs, err := s.Load(ctx, st, 1)
		if err != nil {
			t.Fatalf("Load(%s) with a node down: %v", st, err)
		}
		for i, r := range recs {
			if r.Version != int64(i+1) {
				t.Fatalf("%s: version %d at %d", st, r.Version, i)
			}
		}
		total += len(recs)
	}
	if total != len(acked) {
		t.Errorf("streams hold %d events, %d acknowledged", total, len(acked))
	}
	t.Logf("%d appends acknowledged in %v (%.0f/s), %d failed, %d delivered by the feed; latency %s",
		len(acked), run, float64(len(acked))/run.Seconds(), failed.Load(), len(seen), percentiles(latency))
}

func count(mu *sync.Mutex, m map[string]eventstore.AppendResult) int {
	mu.Lock()
	defer mu.Unlock()
	return len(m)
}

func script(t *testing.T, args ...string) {
	t.Helper()
	dir, _ := os.Getwd()
	cmd := exec.Command("bash", append([]string{filepath.Join(dir, "..", "..", "scripts", "cassandra.sh")}, args...)...)
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("scripts/cassandra.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
