package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
)

// crashChildEnv tells the re-executed test binary to act as the crashing
// writer, in the directory it names.
const crashChildEnv = "EMBEDDED_TEST_CRASH_CHILD_DIR"

var crashStreams = []string{"exam-crash-1", "attempt-crash-2", "attempt-crash-3", "grades-crash-4"}

// TestUncleanClose appends from a child process that is killed with SIGKILL
// while appending, then checks that every append the child saw acknowledged
// survived, that the log is consistent, and that appends continue.
func TestUncleanClose(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	const killAfter = 400 // acknowledged appends
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestUncleanClose$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		id      string
		stream  string
		version int64
		pos     uint64
	}
	var acks []ack
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 || f[0] != "ack" {
			continue
		}
		v, err1 := strconv.ParseInt(f[3], 10, 64)
		p, err2 := strconv.ParseUint(f[4], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad ack line %q", sc.Text())
		}
		acks = append(acks, ack{f[1], f[2], v, p})
		if len(acks) == killAfter && !killed {
			killed = true
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited after %d acks: %v\n%s", len(acks), err, stderr.String())
	}
	t.Logf("child killed after %d acknowledged appends (%v)", len(acks), err)

	s := openTest(t, dir)
	ctx := t.Context()
	for _, a := range acks {
		recs := mustLoadT(t, s, a.stream, a.version)
		if len(recs) == 0 || recs[0].EventID != a.id || recs[0].Version != a.version || recs[0].Position != a.pos {
			t.Fatalf("acknowledged %s at %s v%d pos %d is not there", a.id, a.stream, a.version, a.pos)
		}
	}
	total := 0
	head := map[string]int64{}
	for _, st := range crashStreams {
		recs := mustLoadT(t, s, st, 1)
		for i, r := range recs {
			if r.Version != int64(i+1) {
				t.Fatalf("%s: version %d at index %d", st, r.Version, i)
			}
			if i > 0 && r.Position <= recs[i-1].Position {
				t.Fatalf("%s: positions %d then %d", st, recs[i-1].Position, r.Position)
			}
		}
		head[st] = int64(len(recs))
		total += len(recs)
	}
	all, err := s.ReadAll(ctx, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != total {
		t.Fatalf("log holds %d events, streams %d", len(all), total)
	}
	for i, r := range all {
		if r.Position != uint64(i+1) {
			t.Fatalf("log position %d at index %d: the embedded log is gap-free", r.Position, i)
		}
	}
	last, _ := s.Head(ctx)
	if last != uint64(total) {
		t.Fatalf("Head = %d, log holds %d", last, total)
	}
	for _, st := range crashStreams {
		res, err := s.Append(ctx, st, head[st], []eventstore.Record{eventstoretest.NewEvent("test.after_crash.v1")})
		if err != nil {
			t.Fatalf("append to %s after the crash: %v", st, err)
		}
		if res.FromVersion != head[st]+1 || res.LastPosition <= last {
			t.Fatalf("append to %s after the crash = %+v, want version %d above position %d", st, res, head[st]+1, last)
		}
		last = res.LastPosition
	}
}

func mustLoadT(t *testing.T, s *Store, stream string, from int64) []eventstore.Record {
	t.Helper()
	recs, err := s.Load(t.Context(), stream, from)
	if err != nil {
		t.Fatalf("Load(%s, %d): %v", stream, from, err)
	}
	return recs
}

// crashChild appends until it is killed, printing one line per acknowledged
// event: "ack <event id> <stream> <version> <position>". It never closes
// the store.
func crashChild(dir string) {
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	// Never outlive a parent that forgot to kill us.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				st := crashStreams[(w+i)%len(crashStreams)]
				evs := make([]eventstore.Record, 1+i%3)
				for j := range evs {
					evs[j] = eventstoretest.NewEvent("test.before_crash.v1")
				}
				res, err := s.Append(ctx, st, eventstore.AnyVersion, evs)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				var b strings.Builder
				for j, ev := range evs {
					fmt.Fprintf(&b, "ack %s %s %d %d\n", ev.EventID, st,
						res.FromVersion+int64(j), res.LastPosition-uint64(len(evs)-1-j))
				}
				mu.Lock()
				_, _ = os.Stdout.WriteString(b.String())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(3) // timed out: the parent never killed us
}
