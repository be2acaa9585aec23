package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
)

// waitWakes starts w.WaitForEvents(after) and returns a channel that gets
// its result.
func waitWakes(ctx context.Context, w *Store, after uint64) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- w.WaitForEvents(ctx, after) }()
	return errc
}

func expectWake(t *testing.T, errc <-chan error, within time.Duration, what string) {
	t.Helper()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("%s: WaitForEvents: %v", what, err)
		}
	case <-time.After(within):
		t.Fatalf("%s: WaitForEvents still blocked after %v", what, within)
	}
}

// TestWaitWakesOnOtherStoresNotify: a waiter whose store never polls (an
// hour's PollInterval) wakes on another store's append: by NOTIFY.
func TestWaitWakesOnOtherStoresNotify(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	cfg := testConfig(schema)
	writer := openStore(t, cfg)
	cfg.PollInterval = time.Hour
	waiter := openStore(t, cfg)
	ctx := t.Context()
	for round := range 3 {
		head, err := waiter.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		errc := waitWakes(ctx, waiter, head)
		time.Sleep(50 * time.Millisecond) // let it block (and the listener start)
		select {
		case err := <-errc:
			t.Fatalf("round %d: WaitForEvents returned %v before any append", round, err)
		default:
		}
		if _, err := writer.Append(ctx, eventstoretest.NewStreamID("test"), eventstore.NoStream,
			[]eventstore.Record{eventstoretest.NewEvent("test.wait.v1")}); err != nil {
			t.Fatal(err)
		}
		expectWake(t, errc, 5*time.Second, "notified")
	}
}

// TestWaitPollsWithoutNotify: a writer that sends no notification (here a
// raw transaction that appends under the lock and commits without NOTIFY)
// still wakes the waiter, by the poll.
func TestWaitPollsWithoutNotify(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	cfg := testConfig(schema)
	cfg.PollInterval = 50 * time.Millisecond
	s := openStore(t, cfg)
	ctx := t.Context()
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	errc := waitWakes(ctx, s, head)
	time.Sleep(100 * time.Millisecond)

	r, err := newAppendReq(ctx, eventstoretest.NewStreamID("test"), eventstore.NoStream,
		[]eventstore.Record{eventstoretest.NewEvent("test.silent.v1")})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	p, err := s.lockAndPlan(ctx, conn.Conn(), []*appendReq{r})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, s.sql.insert, p.rows.args()...); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	expectWake(t, errc, 5*time.Second, "polled")
}

// TestGroupFailureIsolated: when the server refuses a group's INSERT, each
// append is committed alone, so only the bad one fails. The bad one here
// violates a CHECK constraint the store does not validate in Go.
func TestGroupFailureIsolated(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	s := openStore(t, testConfig(schema))
	ctx := t.Context()
	conn := connect(t)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "ALTER TABLE "+s.sql.events+" ADD CONSTRAINT no_poison CHECK (type <> 'test.poison.v1')"); err != nil {
		t.Fatal(err)
	}
	good := []*appendReq{}
	var reqs []*appendReq
	for i := range 6 {
		typ := "test.good.v1"
		if i == 3 {
			typ = "test.poison.v1"
		}
		r, err := newAppendReq(ctx, eventstoretest.NewStreamID("test"), eventstore.NoStream,
			[]eventstore.Record{eventstoretest.NewEvent(typ)})
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
		if i != 3 {
			good = append(good, r)
		}
	}
	s.commitGroup(reqs) // one group, as the committer would form it
	for i, r := range reqs {
		<-r.done
		if (i == 3) != (r.err != nil) {
			t.Errorf("append %d: %+v, %v", i, r.res, r.err)
		}
	}
	for _, r := range good {
		recs, err := s.Load(ctx, r.stream, 1)
		if err != nil || len(recs) != 1 || recs[0].Position != r.res.LastPosition {
			t.Errorf("stream %s: %v, %v; want its event at %d", r.stream, recs, err, r.res.LastPosition)
		}
	}
}
