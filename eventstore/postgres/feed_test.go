package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
)

// The global feed must never skip an event committed late (guarantee 3).
//
// TestFeedNeverSkipsLateCommits drives the store hard while a tailer follows
// ReadAll from its last position; TestFeedCheckerCatchesNaiveWriters shows
// that the same tailer does catch the skip when positions are handed out by
// a plain sequence (what an identity column does), so the first test would
// fail if the store did that. (Checked once by hand too: with Append itself
// taking positions from a sequence and no lock, TestFeedNeverSkipsLateCommits
// fails with acknowledged events "never seen: skipped" and streams' versions
// out of order.)

// feedCheck records what writers acknowledged and what a tailer saw.
type feedCheck struct {
	streams map[string]bool

	mu    sync.Mutex
	acked map[string]ackedEvent
}

type ackedEvent struct {
	stream  string
	version int64
	pos     uint64
}

func newFeedCheck(streams []string) *feedCheck {
	c := &feedCheck{streams: map[string]bool{}, acked: map[string]ackedEvent{}}
	for _, s := range streams {
		c.streams[s] = true
	}
	return c
}

// ack records an append acknowledged at versions from.. and positions last-n+1..last.
func (c *feedCheck) ack(stream string, ids []string, from int64, last uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := uint64(len(ids))
	for i, id := range ids {
		c.acked[id] = ackedEvent{stream, from + int64(i), last - n + 1 + uint64(i)}
	}
}

// tail follows s's feed from start until writersDone is closed and every
// acknowledged event was seen, or nothing new came for patience. It returns
// every problem found: a position not after the previous one, an event seen
// twice, a stream's versions out of order, an acknowledged event never seen.
func (c *feedCheck) tail(ctx context.Context, s *Store, start uint64, writersDone <-chan struct{}, patience time.Duration) []string {
	var problems []string
	problem := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	seen := map[string]eventstore.Record{}
	next := map[string]int64{}
	after := start
	lastNews := time.Now()
	for ctx.Err() == nil {
		recs, err := s.ReadAll(ctx, after, 50)
		if err != nil {
			problem("ReadAll(%d): %v", after, err)
			return c.verdict(seen, problems)
		}
		for _, r := range recs {
			if r.Position <= after {
				problem("position %d after %d", r.Position, after)
			}
			after = r.Position
			if !c.streams[r.StreamID] {
				continue
			}
			if _, dup := seen[r.EventID]; dup {
				problem("event %s seen twice", r.EventID)
			}
			seen[r.EventID] = r
			if want := next[r.StreamID] + 1; r.Version != want {
				problem("%s: version %d at position %d, want version %d", r.StreamID, r.Version, r.Position, want)
			}
			next[r.StreamID] = r.Version
		}
		if len(recs) > 0 {
			lastNews = time.Now()
			continue
		}
		select {
		case <-writersDone:
			c.mu.Lock()
			all := len(seen) >= len(c.acked)
			c.mu.Unlock()
			if all || time.Since(lastNews) > patience {
				return c.verdict(seen, problems)
			}
		default:
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err = s.WaitForEvents(wctx, after)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			problem("WaitForEvents(%d): %v", after, err)
			return c.verdict(seen, problems)
		}
	}
	problem("stopped before the writers were done: %v", ctx.Err())
	return c.verdict(seen, problems)
}

// verdict adds to problems every acknowledged event not seen as acknowledged.
func (c *feedCheck) verdict(seen map[string]eventstore.Record, problems []string) []string {
	problem := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	missing := 0
	for id, a := range c.acked {
		r, ok := seen[id]
		switch {
		case !ok:
			missing++
			problem("acknowledged event %s (%s v%d, position %d) never seen: skipped", id, a.stream, a.version, a.pos)
		case r.StreamID != a.stream || r.Version != a.version || r.Position != a.pos:
			problem("event %s seen as %s v%d at %d, acknowledged as %s v%d at %d",
				id, r.StreamID, r.Version, r.Position, a.stream, a.version, a.pos)
		}
	}
	if missing > 0 {
		problem("%d of %d acknowledged events never seen", missing, len(c.acked))
	}
	return problems
}

// TestFeedNeverSkipsLateCommits: 16 writers × 100 appends over 8 streams,
// through two stores over one schema (two processes), while transactions
// hold a reserved position open with pg_sleep and commit late; a tailer on a
// third store sees every acknowledged event exactly once, in each stream's
// version order.
func TestFeedNeverSkipsLateCommits(t *testing.T) {
	t.Parallel()
	const (
		writers  = 16
		appends  = 100
		nstreams = 8
		lateTxs  = 6 // per late writer, two late writers
	)
	schema := newSchema(t)
	cfg := testConfig(schema)
	a, b, reader := openStore(t, cfg), openStore(t, cfg), openStore(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()

	streams := make([]string, nstreams)
	for i := range streams {
		streams[i] = eventstoretest.NewStreamID("test")
	}
	check := newFeedCheck(streams)
	start, err := reader.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for w := range writers {
		s := []*Store{a, b}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range appends {
				stream := streams[(w+i)%nstreams]
				evs := make([]eventstore.Record, 1+i%5/4) // every fifth append has two events
				ids := make([]string, len(evs))
				for j := range evs {
					evs[j] = eventstoretest.NewEvent("test.feed.v1")
					ids[j] = evs[j].EventID
				}
				res, err := s.Append(ctx, stream, eventstore.AnyVersion, evs)
				if err != nil {
					t.Errorf("writer %d append %d: %v", w, i, err)
					return
				}
				check.ack(stream, ids, res.FromVersion, res.LastPosition)
			}
		}()
	}
	// Late writers: a raw transaction takes the append lock and a position
	// exactly as Append does, then sleeps before committing, while everyone
	// else tries to append.
	var late sync.WaitGroup
	for w := range 2 {
		late.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer late.Done()
			for i := range lateTxs {
				time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
				stream := streams[(w*lateTxs+i)%nstreams]
				hold := time.Duration(20+rand.IntN(40)) * time.Millisecond
				ids, from, last, err := lateAppend(ctx, a, stream, 1+i%2, hold)
				if err != nil {
					t.Errorf("late writer %d tx %d: %v", w, i, err)
					return
				}
				check.ack(stream, ids, from, last)
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()

	problems := check.tail(ctx, reader, start, writersDone, 10*time.Second)
	<-writersDone
	for _, p := range problems {
		t.Error(p)
	}
	if n := len(check.acked); n < writers*appends {
		t.Errorf("only %d events acknowledged", n)
	}
	t.Logf("tailer checked %d events", len(check.acked))
}

// lateAppend appends n events to stream in a transaction of its own that
// takes the append lock and its positions, and inserts its rows, exactly as
// Append does, then holds them for hold before committing.
func lateAppend(ctx context.Context, s *Store, stream string, n int, hold time.Duration) (ids []string, from int64, last uint64, err error) {
	evs := make([]eventstore.Record, n)
	for i := range evs {
		evs[i] = eventstoretest.NewEvent("test.late.v1")
	}
	r, err := newAppendReq(ctx, stream, eventstore.AnyVersion, evs)
	if err != nil {
		return nil, 0, 0, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, 0, 0, err
	}
	defer conn.Release()
	p, err := s.lockAndPlan(ctx, conn.Conn(), []*appendReq{r})
	if err == nil {
		err = p.errs[0]
	}
	if err == nil {
		err = s.write(ctx, conn.Conn(), p, false)
	}
	if err == nil {
		_, err = conn.Exec(ctx, "SELECT pg_sleep($1)", hold.Seconds())
	}
	if err == nil {
		_, err = conn.Exec(ctx, "COMMIT")
	}
	if err != nil {
		s.rollback(conn.Conn())
		return nil, 0, 0, err
	}
	return r.ids, p.res[0].FromVersion, p.res[0].LastPosition, nil
}

// TestFeedCheckerCatchesNaiveWriters is the control: writers that take
// positions from a sequence without the append lock, some holding their
// transaction open, make the same tailer report skipped events. It shows
// that TestFeedNeverSkipsLateCommits can fail.
func TestFeedCheckerCatchesNaiveWriters(t *testing.T) {
	t.Parallel()
	const (
		writers = 8
		inserts = 40
		late    = 4 // held transactions per late writer, two late writers
	)
	schema := newSchema(t)
	reader := openStore(t, testConfig(schema))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	seq := pgx.Identifier{schema, "naive_position"}.Sanitize()
	if _, err := reader.pool.Exec(ctx, "CREATE SEQUENCE "+seq); err != nil {
		t.Fatal(err)
	}
	insert := fmt.Sprintf(`INSERT INTO %s (position, event_id, stream_id, version, type, occurred_at, append_index, append_size)
		VALUES (nextval('%s'), $1, $2, $3, 'test.naive.v1', now(), 0, 1)`, reader.sql.events, seq)

	var streams []string
	newStream := func() string {
		s := eventstoretest.NewStreamID("naive")
		streams = append(streams, s)
		return s
	}
	writerStreams := make([]string, writers+2)
	for i := range writerStreams {
		writerStreams[i] = newStream()
	}
	check := newFeedCheck(streams)

	var wg sync.WaitGroup
	naive := func(stream string, version int64, hold time.Duration) error {
		id := uuid.NewString()
		err := pgx.BeginFunc(ctx, reader.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, insert, id, stream, version); err != nil {
				return err
			}
			if hold > 0 {
				_, err := tx.Exec(ctx, "SELECT pg_sleep($1)", hold.Seconds())
				return err
			}
			return nil
		})
		if err == nil {
			var pos int64
			err = reader.pool.QueryRow(ctx, "SELECT position FROM "+reader.sql.events+" WHERE event_id = $1", id).Scan(&pos)
			check.ack(stream, []string{id}, version, uint64(pos))
		}
		return err
	}
	for w := range writers + 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, hold := inserts, time.Duration(0)
			if w >= writers {
				n, hold = late, 150*time.Millisecond
			}
			for i := range n {
				if err := naive(writerStreams[w], int64(i+1), hold); err != nil {
					t.Errorf("naive writer %d: %v", w, err)
					return
				}
				if hold == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()
	problems := check.tail(ctx, reader, 0, writersDone, time.Second)
	<-writersDone
	skipped := false
	for _, p := range problems {
		t.Log(p)
		if strings.Contains(p, "skipped") {
			skipped = true
		}
	}
	if !skipped {
		t.Fatalf("the tailer did not catch naive writers skipping events (%d problems)", len(problems))
	}
}
