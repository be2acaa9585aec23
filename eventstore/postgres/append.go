package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/examhall/exam/eventstore"
)

// Group commit.
//
// Append validates the call and copies its events in the caller's goroutine,
// then hands an appendReq to the committer goroutine and waits. The
// committer takes one request, drains whatever else is queued (at most
// MaxBatchAppends) and commits the group in one transaction, in two
// pipelined round trips:
//
//  1. BEGIN; synchronous_commit on for this transaction if the server
//     has it off (an acknowledged append must survive a crash);
//     pg_advisory_xact_lock(<the schema's append lock>); read the
//     current version of every stream in the group, where every event id of
//     the group is already stored, and the last position. Under the lock no
//     other writer changes any of it.
//  2. The committer checks each request in arrival order against that state
//     and the group's own earlier requests, as the embedded committer does:
//     a request whose first id is stored is a retry (the original result,
//     Duplicate) if it is exactly the stored append, else
//     ErrDuplicateEventID; then the expected version (*ConflictError); then
//     the other ids (ErrDuplicateEventID). Accepted requests get the next
//     versions and positions. Then one INSERT of all accepted rows,
//     pg_notify(<channel>, <new head>) and COMMIT: one WAL flush for the
//     group.
//
// Answers are given only after COMMIT returns. If the server refuses a
// statement, the transaction is rolled back and, for a group of several
// requests, each is committed again alone, so that one bad request cannot
// fail the others. If the connection fails, the group's requests fail; if
// it was COMMIT's answer that was lost, the appends may be stored, and a
// retry with the same event ids finds them and answers Duplicate. A
// connection left inside a transaction is closed on release, which rolls
// the transaction back.

// appendReq is one Append call on its way through the committer.
type appendReq struct {
	ctx      context.Context
	stream   string
	expected int64
	events   []eventstore.Record // a copy of the caller's events
	ids      []string
	res      eventstore.AppendResult
	err      error
	done     chan struct{} // closed when res/err are set
}

// Append appends events to streamID; see eventstore.Store.
func (s *Store) Append(ctx context.Context, streamID string, expectedVersion int64, events []eventstore.Record) (eventstore.AppendResult, error) {
	r, err := newAppendReq(ctx, streamID, expectedVersion, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := s.acquire(); err != nil {
		return eventstore.AppendResult{}, err
	}
	select {
	case s.reqs <- r:
		s.release()
	case <-ctx.Done():
		s.release()
		return eventstore.AppendResult{}, ctx.Err()
	}
	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
		// The append may still commit; a retry with the same ids is safe.
		return eventstore.AppendResult{}, ctx.Err()
	}
}

// newAppendReq validates an append and copies its events (the caller may
// reuse them once Append returns, even on a cancelled context).
func newAppendReq(ctx context.Context, stream string, expected int64, events []eventstore.Record) (*appendReq, error) {
	switch {
	case stream == "":
		return nil, fmt.Errorf("%w: empty stream id", eventstore.ErrInvalidAppend)
	case len(events) == 0:
		return nil, fmt.Errorf("%w: no events for %s", eventstore.ErrInvalidAppend, stream)
	case expected < eventstore.AnyVersion:
		return nil, fmt.Errorf("%w: expected version %d for %s", eventstore.ErrInvalidAppend, expected, stream)
	case !validText(stream):
		return nil, fmt.Errorf("%w: stream id %q is not valid UTF-8 text", eventstore.ErrInvalidAppend, stream)
	}
	r := &appendReq{
		ctx:      ctx,
		stream:   stream,
		expected: expected,
		events:   make([]eventstore.Record, len(events)),
		ids:      make([]string, len(events)),
		done:     make(chan struct{}),
	}
	seen := make(map[string]struct{}, len(events))
	for i := range events {
		ev := events[i]
		switch {
		case ev.EventID == "":
			return nil, fmt.Errorf("%w: event %d for %s has no id", eventstore.ErrInvalidAppend, i, stream)
		case !canonicalUUID(ev.EventID):
			return nil, fmt.Errorf("%w: event id %q is not a lower-case UUID", eventstore.ErrInvalidAppend, ev.EventID)
		case ev.Type == "":
			return nil, fmt.Errorf("%w: event %s has no type", eventstore.ErrInvalidAppend, ev.EventID)
		}
		if _, dup := seen[ev.EventID]; dup {
			return nil, fmt.Errorf("%w: event id %s twice in one append", eventstore.ErrInvalidAppend, ev.EventID)
		}
		seen[ev.EventID] = struct{}{}
		for _, t := range [...]string{ev.Type, ev.ActorID, ev.ActorRole, ev.CorrelationID, ev.CausationID} {
			if !validText(t) {
				return nil, fmt.Errorf("%w: event %s: %q is not valid UTF-8 text", eventstore.ErrInvalidAppend, ev.EventID, t)
			}
		}
		for _, t := range ev.Tags {
			if !validText(t) {
				return nil, fmt.Errorf("%w: event %s: tag %q is not valid UTF-8 text", eventstore.ErrInvalidAppend, ev.EventID, t)
			}
		}
		ev.StreamID = stream
		ev.Tags = slices.Clone(ev.Tags)
		ev.Data = slices.Clone(ev.Data) // nil stays nil
		r.events[i] = ev
		r.ids[i] = ev.EventID
	}
	return r, nil
}

// validText: PostgreSQL text must be valid UTF-8 without NUL.
func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// canonicalUUID accepts the form the uuid column gives back: 8-4-4-4-12
// lower-case hex digits. Other spellings would not read back identical.
func canonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func (s *Store) commitLoop() {
	defer close(s.done)
	for {
		select {
		case r := <-s.reqs:
			group := []*appendReq{r}
		drain:
			for len(group) < s.cfg.MaxBatchAppends {
				select {
				case r := <-s.reqs:
					group = append(group, r)
				default:
					break drain
				}
			}
			s.commitGroup(group)
		case <-s.stop:
			// Close has marked the store closed and waited for senders:
			// what is queued now is all there will be.
			for {
				select {
				case r := <-s.reqs:
					r.err = eventstore.ErrClosed
					close(r.done)
				default:
					return
				}
			}
		}
	}
}

// commitGroup commits a group of requests in one transaction and answers them.
func (s *Store) commitGroup(group []*appendReq) {
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	err := s.commit(live)
	var pgErr *pgconn.PgError
	if err != nil && len(live) > 1 && errors.As(err, &pgErr) {
		// The server refused a statement, so nothing was committed: commit
		// the requests one by one, so that one bad request only fails itself.
		s.log.Warn("append group failed; committing its appends one by one", "appends", len(live), "err", err)
		for _, r := range live {
			if r.err = r.ctx.Err(); r.err == nil {
				if err := s.commit([]*appendReq{r}); err != nil {
					r.err = err
				}
			}
			close(r.done)
		}
		return
	}
	if err != nil {
		s.log.Error("append group failed", "appends", len(live), "err", err)
	}
	for _, r := range live {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
}

// commit runs reqs in one transaction. When it commits, every request's
// res or err is set and nil is returned; otherwise nothing is set.
func (s *Store) commit(reqs []*appendReq) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CommitTimeout)
	defer cancel()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: append: %w", err)
	}
	defer conn.Release() // a connection left inside a transaction is closed, which rolls it back
	p, err := s.lockAndPlan(ctx, conn.Conn(), reqs)
	if err == nil {
		err = s.write(ctx, conn.Conn(), p, true)
	}
	if err != nil {
		s.rollback(conn.Conn())
		return fmt.Errorf("postgres: append: %w", err)
	}
	for i, r := range reqs {
		r.res, r.err = p.res[i], p.errs[i]
	}
	s.advance(p.last)
	return nil
}

func (s *Store) rollback(conn *pgx.Conn) {
	if conn.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = conn.Exec(ctx, "ROLLBACK")
}

// storedID is where a stored event id sits.
type storedID struct {
	stream            string
	version, position int64
	index, size       int64 // its place in the append that stored it
}

// plan is what a group's transaction will write and answer.
type plan struct {
	rows insertRows
	last uint64 // the last position written (or the head, if nothing is)
	res  []eventstore.AppendResult
	errs []error
}

// insertRows are the INSERT's column arrays; event i's tags are
// tags[tagLo[i]-1 : tagHi[i]].
type insertRows struct {
	positions, versions   []int64
	ids, streams, types   []string
	occurred              []time.Time
	actors, roles         []string
	correlations, causers []string
	tags                  []string
	tagLo, tagHi          []int32
	data                  [][]byte
	index, size           []int32
}

func (r *insertRows) args() []any {
	tags := r.tags
	if tags == nil {
		tags = []string{}
	}
	return []any{r.positions, r.ids, r.streams, r.versions, r.types, r.occurred, r.actors, r.roles,
		r.correlations, r.causers, tags, r.tagLo, r.tagHi, r.data, r.index, r.size}
}

// lockAndPlan begins a transaction on conn, takes the append lock, reads the
// state reqs depend on and decides each request's outcome.
func (s *Store) lockAndPlan(ctx context.Context, conn *pgx.Conn, reqs []*appendReq) (*plan, error) {
	var streams, ids []string
	distinct := make(map[string]bool, len(reqs))
	for _, r := range reqs {
		if !distinct[r.stream] {
			distinct[r.stream] = true
			streams = append(streams, r.stream)
		}
		ids = append(ids, r.ids...)
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(s.sql.durable)
	b.Queue(s.sql.lock, s.lockKey)
	b.Queue(s.sql.versions, streams)
	b.Queue(s.sql.lookupIDs, ids)
	b.Queue(s.sql.head)
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	for range 2 { // BEGIN, durable
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("take the append lock: %w", err)
	}
	versions := make(map[string]int64, len(reqs))
	var (
		stream string
		v      int64
	)
	rows, _ := br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&stream, &v}, func() error { versions[stream] = v; return nil }); err != nil {
		return nil, fmt.Errorf("read stream versions: %w", err)
	}
	stored := make(map[string]storedID)
	var (
		id string
		e  storedID
	)
	rows, _ = br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&id, &e.stream, &e.version, &e.position, &e.index, &e.size}, func() error {
		stored[id] = e
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read stored event ids: %w", err)
	}
	var head int64
	if err := br.QueryRow().Scan(&head); err != nil {
		return nil, fmt.Errorf("read head: %w", err)
	}
	if err := br.Close(); err != nil {
		return nil, err
	}

	p := &plan{res: make([]eventstore.AppendResult, len(reqs)), errs: make([]error, len(reqs))}
	pos := head
	for i, r := range reqs {
		p.res[i], p.errs[i] = p.add(r, versions, stored, &pos)
	}
	p.last = uint64(pos)
	return p, nil
}

// add checks r against the stored state and the group so far and, when it
// may be appended, adds its rows and records them in versions and stored.
func (p *plan) add(r *appendReq, versions map[string]int64, stored map[string]storedID, pos *int64) (eventstore.AppendResult, error) {
	if first, ok := stored[r.ids[0]]; ok {
		return retryResult(r, first, stored)
	}
	cur := versions[r.stream]
	if r.expected != eventstore.AnyVersion && r.expected != cur {
		return eventstore.AppendResult{}, &eventstore.ConflictError{StreamID: r.stream, Expected: r.expected, Actual: cur}
	}
	for _, id := range r.ids[1:] {
		if e, ok := stored[id]; ok {
			return eventstore.AppendResult{}, fmt.Errorf("%w: %s is already stored at position %d",
				eventstore.ErrDuplicateEventID, id, e.position)
		}
	}
	n := int64(len(r.events))
	rows := &p.rows
	for i := range r.events {
		ev := &r.events[i]
		*pos++
		v := cur + 1 + int64(i)
		rows.positions = append(rows.positions, *pos)
		rows.versions = append(rows.versions, v)
		rows.ids = append(rows.ids, ev.EventID)
		rows.streams = append(rows.streams, r.stream)
		rows.types = append(rows.types, ev.Type)
		rows.occurred = append(rows.occurred, ev.OccurredAt)
		rows.actors = append(rows.actors, ev.ActorID)
		rows.roles = append(rows.roles, ev.ActorRole)
		rows.correlations = append(rows.correlations, ev.CorrelationID)
		rows.causers = append(rows.causers, ev.CausationID)
		rows.tagLo = append(rows.tagLo, int32(len(rows.tags)+1))
		rows.tags = append(rows.tags, ev.Tags...)
		rows.tagHi = append(rows.tagHi, int32(len(rows.tags)))
		rows.data = append(rows.data, ev.Data)
		rows.index = append(rows.index, int32(i))
		rows.size = append(rows.size, int32(n))
		stored[ev.EventID] = storedID{stream: r.stream, version: v, position: *pos, index: int64(i), size: n}
	}
	versions[r.stream] = cur + n
	return eventstore.AppendResult{FromVersion: cur + 1, ToVersion: cur + n, LastPosition: uint64(*pos)}, nil
}

// retryResult answers a request whose first id is stored: a retry of exactly
// the stored append (same stream, same ids in the same order, the whole
// append) gets the original result; anything else is ErrDuplicateEventID.
func retryResult(r *appendReq, first storedID, stored map[string]storedID) (eventstore.AppendResult, error) {
	notRetry := func(why string) error {
		return fmt.Errorf("%w: %s is already stored at position %d (%s)",
			eventstore.ErrDuplicateEventID, r.ids[0], first.position, why)
	}
	if first.stream != r.stream {
		return eventstore.AppendResult{}, notRetry("in stream " + first.stream)
	}
	n := int64(len(r.ids))
	if first.index != 0 || first.size != n {
		return eventstore.AppendResult{}, notRetry("not the same append")
	}
	for i, id := range r.ids {
		e, ok := stored[id]
		if !ok || e.stream != r.stream || e.index != int64(i) || e.position != first.position+int64(i) {
			return eventstore.AppendResult{}, notRetry("not the same append")
		}
	}
	return eventstore.AppendResult{
		FromVersion:  first.version,
		ToVersion:    first.version + n - 1,
		LastPosition: uint64(first.position + n - 1),
		Duplicate:    true,
	}, nil
}

// write inserts the plan's rows and notifies, in the transaction
// lockAndPlan began; with commit it also commits.
func (s *Store) write(ctx context.Context, conn *pgx.Conn, p *plan, commit bool) error {
	b := &pgx.Batch{}
	if len(p.rows.ids) > 0 {
		b.Queue(s.sql.insert, p.rows.args()...)
		b.Queue(s.sql.notify, s.channel, fmt.Sprint(p.last))
	}
	if commit {
		b.Queue("COMMIT")
	}
	if b.Len() == 0 {
		return nil
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if commit && conn.PgConn().TxStatus() != 'I' {
		return errors.New("the transaction did not commit")
	}
	return nil
}
