// Package eventstoretest is the conformance suite of the eventstore port.
// Every backend's tests call Run with a Harness that opens that backend:
//
//	func TestConformance(t *testing.T) {
//		eventstoretest.Run(t, eventstoretest.Harness{New: openTestStore})
//	}
//
// Subtests run in parallel and never assume the store is empty: they use
// random stream ids, actors, tags and event types, so New may hand out stores
// over shared data (one database, one keyspace), as long as every call
// returns a handle the subtest may close.
package eventstoretest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/examhall/exam/eventstore"
)

// Harness opens the backend under test.
type Harness struct {
	// New returns a store for one subtest. It registers its own cleanup
	// (t.Cleanup), which must tolerate the store having been closed already.
	New func(t *testing.T) eventstore.Store
	// Reopen, optional, closes s and opens the same data again; the reopened
	// store's cleanup is the harness's business too. Without it the
	// persistence subtests are skipped.
	Reopen func(t *testing.T, s eventstore.Store) eventstore.Store
}

// Run runs the conformance suite against the backend h opens.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("eventstoretest: Harness.New is required")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"AppendAndLoad", testAppendAndLoad},
		{"LoadMissingStream", testLoadMissingStream},
		{"NoStreamOnExistingStream", testNoStreamOnExistingStream},
		{"WrongExpectedVersion", testWrongExpectedVersion},
		{"AnyVersion", testAnyVersion},
		{"AllOrNothing", testAllOrNothing},
		{"InvalidAppends", testInvalidAppends},
		{"RacingAppendsOneWins", testRacingAppendsOneWins},
		{"IdempotentRetry", testIdempotentRetry},
		{"DuplicateEventID", testDuplicateEventID},
		{"ReadAll", testReadAll},
		{"Head", testHead},
		{"ConcurrentWritersAndTailer", testConcurrentWritersAndTailer},
		{"Query", testQuery},
		{"QueryDefaultLimit", testQueryDefaultLimit},
		{"Closed", testClosed},
		{"WaiterWakesOnAppend", testWaiterWakes},
		{"WaiterWakesOnClose", testClosedWakesWaiter},
		{"Checkpoints", testCheckpoints},
		{"Reopen", testReopen},
		{"ReopenCheckpoints", testReopenCheckpoints},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, h)
		})
	}
}

// ---- fixtures ----

// NewStreamID returns a random stream id in category.
func NewStreamID(category string) string { return category + "-" + uuid.NewString() }

// NewEvent returns a valid event of type typ with a random id and every
// envelope field filled in.
func NewEvent(typ string) eventstore.Record {
	return eventstore.Record{
		EventID:       uuid.NewString(),
		Type:          typ,
		OccurredAt:    time.Now().UTC(),
		ActorID:       uuid.NewString(),
		ActorRole:     "student",
		CorrelationID: uuid.NewString(),
		CausationID:   uuid.NewString(),
		Tags:          []string{"exam:" + uuid.NewString(), "student:" + uuid.NewString()},
		Data:          []byte(fmt.Sprintf(`{"n":%d,"text":"héllo \"quoted\""}`, rand.IntN(1000))),
	}
}

func newEvents(n int, typ string) []eventstore.Record {
	evs := make([]eventstore.Record, n)
	for i := range evs {
		evs[i] = NewEvent(typ)
	}
	return evs
}

const testType = "test.something_happened.v1"

func mustAppend(t *testing.T, s eventstore.Store, stream string, expected int64, evs ...eventstore.Record) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(t.Context(), stream, expected, evs)
	if err != nil {
		t.Fatalf("Append(%s, %d, %d events): %v", stream, expected, len(evs), err)
	}
	return res
}

func mustLoad(t *testing.T, s eventstore.Store, stream string, from int64) []eventstore.Record {
	t.Helper()
	recs, err := s.Load(t.Context(), stream, from)
	if err != nil {
		t.Fatalf("Load(%s, %d): %v", stream, from, err)
	}
	return recs
}

func mustHead(t *testing.T, s eventstore.Store) uint64 {
	t.Helper()
	h, err := s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	return h
}

// assertSameEvent compares everything the caller gave Append; the store's
// Version and Position are checked by the callers.
func assertSameEvent(t *testing.T, want, got eventstore.Record) {
	t.Helper()
	if got.EventID != want.EventID || got.StreamID != want.StreamID || got.Type != want.Type ||
		got.ActorID != want.ActorID || got.ActorRole != want.ActorRole ||
		got.CorrelationID != want.CorrelationID || got.CausationID != want.CausationID {
		t.Errorf("envelope differs:\n got  %+v\n want %+v", got, want)
	}
	if !got.OccurredAt.UTC().Truncate(time.Microsecond).Equal(want.OccurredAt.UTC().Truncate(time.Microsecond)) {
		t.Errorf("event %s: OccurredAt = %v, want %v", want.EventID, got.OccurredAt.UTC(), want.OccurredAt.UTC())
	}
	if len(got.Tags) != len(want.Tags) || (len(want.Tags) > 0 && !slices.Equal(got.Tags, want.Tags)) {
		t.Errorf("event %s: Tags = %q, want %q", want.EventID, got.Tags, want.Tags)
	}
	if !sameJSON(got.Data, want.Data) {
		t.Errorf("event %s: Data = %s, want %s", want.EventID, got.Data, want.Data)
	}
}

// sameJSON compares payloads by meaning, so a backend may store them
// normalised (e.g. PostgreSQL jsonb).
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func assertConflict(t *testing.T, err error, stream string, expected, actual int64) {
	t.Helper()
	if !errors.Is(err, eventstore.ErrVersionConflict) {
		t.Fatalf("err = %v, want ErrVersionConflict", err)
	}
	var ce *eventstore.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want a *ConflictError", err, err)
	}
	if ce.StreamID != stream || ce.Expected != expected || ce.Actual != actual {
		t.Errorf("ConflictError = %+v, want stream %s expected %d actual %d", *ce, stream, expected, actual)
	}
}

func versions(recs []eventstore.Record) []int64 {
	vs := make([]int64, len(recs))
	for i, r := range recs {
		vs[i] = r.Version
	}
	return vs
}

func ids(recs []eventstore.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.EventID
	}
	return out
}

// ---- append and load ----

func testAppendAndLoad(t *testing.T, h Harness) {
	s := h.New(t)
	stream := NewStreamID("test")
	evs := newEvents(3, testType)
	evs[1].OccurredAt = time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("x", 3600))
	evs[2].Tags, evs[2].ActorID, evs[2].CausationID = nil, "", ""
	evs[2].Data = []byte(`{}`)
	res := mustAppend(t, s, stream, eventstore.NoStream, evs...)
	if res.FromVersion != 1 || res.ToVersion != 3 || res.Duplicate || res.LastPosition == 0 {
		t.Fatalf("AppendResult = %+v, want versions 1..3, a position, not duplicate", res)
	}
	recs := mustLoad(t, s, stream, 1)
	if len(recs) != 3 {
		t.Fatalf("Load returned %d events, want 3", len(recs))
	}
	for i, r := range recs {
		want := evs[i]
		want.StreamID = stream
		assertSameEvent(t, want, r)
		if r.Version != int64(i+1) {
			t.Errorf("event %d: Version = %d, want %d", i, r.Version, i+1)
		}
		if i > 0 && r.Position <= recs[i-1].Position {
			t.Errorf("positions not increasing: %d after %d", r.Position, recs[i-1].Position)
		}
	}
	if last := recs[2].Position; last != res.LastPosition {
		t.Errorf("last position = %d, AppendResult.LastPosition = %d", last, res.LastPosition)
	}
	if got := versions(mustLoad(t, s, stream, 2)); !slices.Equal(got, []int64{2, 3}) {
		t.Errorf("Load(from 2) versions = %v, want [2 3]", got)
	}
	if got := versions(mustLoad(t, s, stream, 0)); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("Load(from 0) versions = %v, want [1 2 3]", got)
	}
	if got := mustLoad(t, s, stream, 4); len(got) != 0 {
		t.Errorf("Load(from 4) = %d events, want none", len(got))
	}
	// The caller's slice is not modified.
	if evs[0].Version != 0 || evs[0].Position != 0 || evs[0].StreamID != "" {
		t.Errorf("Append modified the caller's events: %+v", evs[0])
	}
}

func testLoadMissingStream(t *testing.T, h Harness) {
	s := h.New(t)
	recs, err := s.Load(t.Context(), NewStreamID("test"), 1)
	if err != nil || len(recs) != 0 {
		t.Fatalf("Load(missing) = %d events, %v; want none, nil", len(recs), err)
	}
}

func testNoStreamOnExistingStream(t *testing.T, h Harness) {
	s := h.New(t)
	stream := NewStreamID("test")
	mustAppend(t, s, stream, eventstore.NoStream, NewEvent(testType))
	_, err := s.Append(t.Context(), stream, eventstore.NoStream, []eventstore.Record{NewEvent(testType)})
	assertConflict(t, err, stream, eventstore.NoStream, 1)
}

func testWrongExpectedVersion(t *testing.T, h Harness) {
	s := h.New(t)
	stream := NewStreamID("test")
	mustAppend(t, s, stream, eventstore.NoStream, newEvents(2, testType)...)
	for _, expected := range []int64{1, 3, 5} {
		_, err := s.Append(t.Context(), stream, expected, []eventstore.Record{NewEvent(testType)})
		assertConflict(t, err, stream, expected, 2)
	}
	res := mustAppend(t, s, stream, 2, NewEvent(testType))
	if res.FromVersion != 3 || res.ToVersion != 3 {
		t.Errorf("append at version 2 = %+v, want version 3", res)
	}
	// A missing stream is at version 0.
	missing := NewStreamID("test")
	_, err := s.Append(t.Context(), missing, 1, []eventstore.Record{NewEvent(testType)})
	assertConflict(t, err, missing, 1, 0)
}

func testAnyVersion(t *testing.T, h Harness) {
	s := h.New(t)
	stream := NewStreamID("test")
	res := mustAppend(t, s, stream, eventstore.AnyVersion, NewEvent(testType))
	if res.FromVersion != 1 || res.ToVersion != 1 {
		t.Errorf("AnyVersion on a new stream = %+v, want version 1", res)
	}
	res = mustAppend(t, s, stream, eventstore.AnyVersion, newEvents(2, testType)...)
	if res.FromVersion != 2 || res.ToVersion != 3 {
		t.Errorf("AnyVersion on a stream at 1 = %+v, want versions 2..3", res)
	}
	if got := versions(mustLoad(t, s, stream, 1)); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("versions = %v, want [1 2 3]", got)
	}
}

func testAllOrNothing(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	stream := NewStreamID("test")
	first := NewEvent(testType)
	mustAppend(t, s, stream, eventstore.NoStream, first)

	_, err := s.Append(ctx, stream, eventstore.NoStream, newEvents(3, testType))
	assertConflict(t, err, stream, eventstore.NoStream, 1)

	// The last event's id is already stored elsewhere: nothing is appended.
	other := NewEvent(testType)
	mustAppend(t, s, NewStreamID("test"), eventstore.NoStream, other)
	batch := append(newEvents(2, testType), other)
	if _, err := s.Append(ctx, stream, 1, batch); !errors.Is(err, eventstore.ErrDuplicateEventID) {
		t.Fatalf("append with a stored id = %v, want ErrDuplicateEventID", err)
	}
	recs := mustLoad(t, s, stream, 1)
	if got := ids(recs); !slices.Equal(got, []string{first.EventID}) {
		t.Fatalf("stream holds %v, want only the first event", got)
	}
	// The first two events of the rejected batch were not stored.
	res := mustAppend(t, s, stream, 1, batch[:2]...)
	if res.Duplicate || res.FromVersion != 2 || res.ToVersion != 3 {
		t.Errorf("append of the rejected events = %+v, want a fresh append at 2..3", res)
	}
}

func testInvalidAppends(t *testing.T, h Harness) {
	s := h.New(t)
	valid := func() []eventstore.Record { return []eventstore.Record{NewEvent(testType)} }
	noID, noType := valid(), valid()
	noID[0].EventID = ""
	noType[0].Type = ""
	stream := NewStreamID("test")
	cases := []struct {
		name     string
		stream   string
		expected int64
		events   []eventstore.Record
	}{
		{"empty stream id", "", eventstore.NoStream, valid()},
		{"no events", stream, eventstore.NoStream, nil},
		{"empty event list", stream, eventstore.NoStream, []eventstore.Record{}},
		{"event without id", stream, eventstore.NoStream, noID},
		{"event without type", stream, eventstore.NoStream, noType},
		{"expected version below AnyVersion", stream, -2, valid()},
		{"second event without id", stream, eventstore.NoStream, append(valid(), noID...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Append(t.Context(), tc.stream, tc.expected, tc.events)
			if !errors.Is(err, eventstore.ErrInvalidAppend) {
				t.Errorf("err = %v, want ErrInvalidAppend", err)
			}
		})
	}
	t.Run("same event id twice in one append", func(t *testing.T) {
		ev := NewEvent(testType)
		_, err := s.Append(t.Context(), stream, eventstore.NoStream, []eventstore.Record{ev, ev})
		if !errors.Is(err, eventstore.ErrInvalidAppend) && !errors.Is(err, eventstore.ErrDuplicateEventID) {
			t.Errorf("err = %v, want ErrInvalidAppend or ErrDuplicateEventID", err)
		}
	})
	if recs := mustLoad(t, s, stream, 1); len(recs) != 0 {
		t.Errorf("invalid appends stored %d events", len(recs))
	}
}

// testRacingAppendsOneWins: N writers append at the same expected version at
// once; exactly one wins, the others get a conflict.
func testRacingAppendsOneWins(t *testing.T, h Harness) {
	const n = 32
	s := h.New(t)
	stream := NewStreamID("test")
	for _, expected := range []int64{eventstore.NoStream, 1} {
		evs := newEvents(n, testType)
		errs := make([]error, n)
		var start, wg sync.WaitGroup
		start.Add(1)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start.Wait()
				_, errs[i] = s.Append(t.Context(), stream, expected, evs[i:i+1])
			}()
		}
		start.Done()
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("expected version %d: writers %d and %d both won", expected, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, eventstore.ErrVersionConflict):
				t.Fatalf("expected version %d: writer %d: %v, want a conflict", expected, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("expected version %d: no writer won", expected)
		}
		recs := mustLoad(t, s, stream, expected+1)
		if len(recs) != 1 || recs[0].EventID != evs[winner].EventID || recs[0].Version != expected+1 {
			t.Fatalf("expected version %d: stream holds %v, want only the winner %s", expected, ids(recs), evs[winner].EventID)
		}
	}
}

func testIdempotentRetry(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	stream := NewStreamID("test")
	mustAppend(t, s, stream, eventstore.NoStream, NewEvent(testType))
	evs := newEvents(2, testType)
	first := mustAppend(t, s, stream, 1, evs...)
	mustAppend(t, s, stream, 3, NewEvent(testType))

	for _, expected := range []int64{1, eventstore.AnyVersion, eventstore.NoStream, 4} {
		res, err := s.Append(ctx, stream, expected, evs)
		if err != nil {
			t.Fatalf("retry at expected version %d: %v", expected, err)
		}
		want := first
		want.Duplicate = true
		if res != want {
			t.Errorf("retry at expected version %d = %+v, want %+v", expected, res, want)
		}
	}
	if got := versions(mustLoad(t, s, stream, 1)); !slices.Equal(got, []int64{1, 2, 3, 4}) {
		t.Errorf("versions after retries = %v, want [1 2 3 4]", got)
	}

	// Retries racing each other still append once.
	racing := NewEvent(testType)
	var wg sync.WaitGroup
	results := make([]eventstore.AppendResult, 8)
	errs := make([]error, len(results))
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Append(ctx, stream, eventstore.AnyVersion, []eventstore.Record{racing})
		}()
	}
	wg.Wait()
	fresh := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("racing retry %d: %v", i, errs[i])
		}
		if !results[i].Duplicate {
			fresh++
		}
		if results[i].FromVersion != 5 {
			t.Errorf("racing retry %d = %+v, want version 5", i, results[i])
		}
	}
	if fresh != 1 {
		t.Errorf("%d racing retries appended, want exactly 1", fresh)
	}
	if got := versions(mustLoad(t, s, stream, 1)); !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("versions after racing retries = %v, want [1 2 3 4 5]", got)
	}
}

func testDuplicateEventID(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	stream := NewStreamID("test")
	stored := newEvents(2, testType)
	mustAppend(t, s, stream, eventstore.NoStream, stored...)

	cases := []struct {
		name   string
		stream string
		events []eventstore.Record
	}{
		{"first id in another stream", NewStreamID("test"), stored[:1]},
		{"whole append again in another stream", NewStreamID("test"), stored},
		{"only some of the events", stream, stored[:1]},
		{"a stored id after a new one", stream, []eventstore.Record{NewEvent(testType), stored[1]}},
		{"a stored id followed by a new one", stream, []eventstore.Record{stored[0], stored[1], NewEvent(testType)}},
		{"second event alone", stream, stored[1:]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Append(ctx, tc.stream, eventstore.AnyVersion, tc.events)
			if !errors.Is(err, eventstore.ErrDuplicateEventID) {
				t.Errorf("err = %v, want ErrDuplicateEventID", err)
			}
			if tc.stream != stream {
				if recs := mustLoad(t, s, tc.stream, 1); len(recs) != 0 {
					t.Errorf("other stream holds %d events, want none", len(recs))
				}
			}
		})
	}
	if got := ids(mustLoad(t, s, stream, 1)); !slices.Equal(got, ids(stored)) {
		t.Errorf("stream holds %v, want only %v", got, ids(stored))
	}
}

// ---- the global feed ----

// feedPatience is how long a test waits for acknowledged events to show in
// the feed (a backend may read the feed behind a small consistency delay).
const feedPatience = 10 * time.Second

// readOwn reads the feed after `after` until want events of streams have
// been seen, checks the feed's order, and returns those events.
func readOwn(t *testing.T, s eventstore.Store, after uint64, limit int, streams map[string]bool, want int) []eventstore.Record {
	t.Helper()
	var own []eventstore.Record
	deadline := time.Now().Add(feedPatience)
	for len(own) < want {
		recs, err := s.ReadAll(t.Context(), after, limit)
		if err != nil {
			t.Fatalf("ReadAll(%d, %d): %v", after, limit, err)
		}
		if len(recs) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("ReadAll(%d, %d) is empty with %d of %d events read", after, limit, len(own), want)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if len(recs) > limit {
			t.Fatalf("ReadAll(%d, %d) returned %d events", after, limit, len(recs))
		}
		for _, r := range recs {
			if r.Position <= after {
				t.Fatalf("ReadAll: position %d after %d", r.Position, after)
			}
			after = r.Position
			if streams[r.StreamID] {
				own = append(own, r)
			}
		}
	}
	return own
}

func testReadAll(t *testing.T, h Harness) {
	s := h.New(t)
	start := mustHead(t, s)
	streams := map[string]bool{}
	var appended [][]eventstore.Record // per stream
	var names []string
	for range 3 {
		st := NewStreamID("test")
		streams[st] = true
		names = append(names, st)
		appended = append(appended, nil)
	}
	total := 0
	for round := range 4 {
		for i, st := range names {
			evs := newEvents(1+(round+i)%2, testType)
			mustAppend(t, s, st, int64(len(appended[i])), evs...)
			appended[i] = append(appended[i], evs...)
			total += len(evs)
		}
	}
	for _, limit := range []int{1, 2, 5, 1000} {
		own := readOwn(t, s, start, limit, streams, total)
		if len(own) != total {
			t.Fatalf("limit %d: read %d own events, want %d", limit, len(own), total)
		}
		next := map[string]int64{}
		for _, r := range own {
			next[r.StreamID]++
			if r.Version != next[r.StreamID] {
				t.Fatalf("limit %d: %s version %d out of order, want %d", limit, r.StreamID, r.Version, next[r.StreamID])
			}
			i := slices.Index(names, r.StreamID)
			want := appended[i][r.Version-1]
			want.StreamID = r.StreamID
			assertSameEvent(t, want, r)
		}
	}
	// Reading after an event starts right after it.
	own := readOwn(t, s, start, 1000, streams, total)
	mid := own[total/2]
	rest := readOwn(t, s, mid.Position, 1000, streams, total-total/2-1)
	if rest[0].EventID != own[total/2+1].EventID {
		t.Errorf("ReadAll after %d starts at %s, want %s", mid.Position, rest[0].EventID, own[total/2+1].EventID)
	}
}

func testHead(t *testing.T, h Harness) {
	s := h.New(t)
	before := mustHead(t, s)
	stream := NewStreamID("test")
	res := mustAppend(t, s, stream, eventstore.NoStream, newEvents(3, testType)...)
	head := mustHead(t, s)
	if head < res.LastPosition || res.LastPosition <= before {
		t.Fatalf("Head %d before, %d after an append at %d", before, head, res.LastPosition)
	}
	// Head is the position of an event: the last one ReadAll returns up to it.
	recs, err := s.ReadAll(t.Context(), before, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for _, r := range recs {
		if r.Position <= head {
			last = r.Position
		}
	}
	if last != head {
		t.Errorf("Head = %d, but the last event at or below it is at %d", head, last)
	}
}

// testConcurrentWritersAndTailer: writers append concurrently while a tailer
// follows the feed; the tailer sees every acknowledged event exactly once,
// in each stream's version order.
func testConcurrentWritersAndTailer(t *testing.T, h Harness) {
	const (
		writers = 8
		appends = 200
		nstream = 5
	)
	s := h.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	start := mustHead(t, s)
	streams := map[string]bool{}
	var names []string
	for range nstream {
		st := NewStreamID("test")
		streams[st] = true
		names = append(names, st)
	}

	type ack struct {
		stream  string
		version int64
		pos     uint64
	}
	var (
		mu    sync.Mutex
		acked = map[string]ack{}
		total atomic.Int64
		wg    sync.WaitGroup
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range appends {
				st := names[(w+i)%nstream]
				evs := newEvents(1+(i%10)/9, testType) // every tenth append has two events
				res, err := s.Append(ctx, st, eventstore.AnyVersion, evs)
				if err != nil {
					t.Errorf("writer %d: append %d: %v", w, i, err)
					return
				}
				if res.ToVersion-res.FromVersion+1 != int64(len(evs)) {
					t.Errorf("writer %d: result %+v for %d events", w, res, len(evs))
				}
				mu.Lock()
				for j, ev := range evs {
					acked[ev.EventID] = ack{st, res.FromVersion + int64(j), 0}
				}
				acked[evs[len(evs)-1].EventID] = ack{st, res.ToVersion, res.LastPosition}
				mu.Unlock()
				total.Add(int64(len(evs)))
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()

	waiter, _ := s.(eventstore.Waiter)
	seen := map[string]eventstore.Record{}
	next := map[string]int64{}
	after := start
	done := false
	var patience time.Time // set once the writers are done
	for !done {
		recs, err := s.ReadAll(ctx, after, 100)
		if err != nil {
			t.Fatalf("tailer: ReadAll(%d): %v", after, err)
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
				t.Fatalf("tailer: event %s seen twice", r.EventID)
			}
			seen[r.EventID] = r
			next[r.StreamID]++
			if r.Version != next[r.StreamID] {
				t.Fatalf("tailer: %s version %d, want %d", r.StreamID, r.Version, next[r.StreamID])
			}
		}
		if len(recs) > 0 {
			continue
		}
		select {
		case <-writersDone:
			if done = int64(len(seen)) >= total.Load(); done {
				continue
			}
			if patience.IsZero() {
				patience = time.Now().Add(feedPatience)
			} else if time.Now().After(patience) {
				t.Fatalf("tailer: feed ends at %d with %d of %d acknowledged events", after, len(seen), total.Load())
			}
		default:
		}
		if err := ctx.Err(); err != nil {
			t.Fatalf("tailer: %v with %d of %d events seen", err, len(seen), total.Load())
		}
		if waiter != nil {
			wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
			err := waiter.WaitForEvents(wctx, after)
			wcancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("tailer: WaitForEvents(%d): %v", after, err)
			}
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if t.Failed() {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(acked) || int64(len(acked)) != total.Load() {
		t.Fatalf("tailer saw %d events, %d acknowledged", len(seen), len(acked))
	}
	for id, a := range acked {
		r, ok := seen[id]
		switch {
		case !ok:
			t.Fatalf("acknowledged event %s never seen", id)
		case r.StreamID != a.stream || r.Version != a.version || (a.pos != 0 && r.Position != a.pos):
			t.Fatalf("event %s: seen at %s v%d pos %d, acknowledged at %s v%d pos %d",
				id, r.StreamID, r.Version, r.Position, a.stream, a.version, a.pos)
		}
	}
}

// ---- queries ----

func testQuery(t *testing.T, h Harness) {
	s := h.New(t)
	actorA, actorB := uuid.NewString(), uuid.NewString()
	tagX, tagY, tagZ := "exam:"+uuid.NewString(), "student:"+uuid.NewString(), "student:"+uuid.NewString()
	typeA, typeB := "test.query_a.v1."+uuid.NewString(), "test.query_b.v1."+uuid.NewString()
	// Times far from every other subtest's, at a random minute of the 1980s.
	base := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC).
		Add(time.Duration(rand.Int64N(10*365*24*60)) * time.Minute)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	s1, s2 := NewStreamID("test"), NewStreamID("test")
	specs := []struct {
		stream string
		typ    string
		actor  string
		tags   []string
	}{
		{s1, typeA, actorA, []string{tagX, tagY}},
		{s1, typeB, actorB, []string{tagX}},
		{s2, typeA, actorA, []string{tagX, tagZ}},
		{s2, typeB, actorA, []string{tagY}},
		{s1, typeA, actorB, []string{tagY, tagX}},
	}
	var evs []eventstore.Record
	for i, sp := range specs {
		ev := NewEvent(sp.typ)
		ev.ActorID, ev.Tags, ev.OccurredAt = sp.actor, sp.tags, at(i).Add(time.Duration(i)*time.Microsecond)
		mustAppend(t, s, sp.stream, eventstore.AnyVersion, ev)
		ev.StreamID = sp.stream
		evs = append(evs, ev)
	}
	// Positions, read back through the streams.
	pos := make([]uint64, len(evs))
	for _, st := range []string{s1, s2} {
		for _, r := range mustLoad(t, s, st, 1) {
			pos[slices.IndexFunc(evs, func(e eventstore.Record) bool { return e.EventID == r.EventID })] = r.Position
		}
	}

	cases := []struct {
		name string
		f    eventstore.Filter
		want []int
	}{
		{"stream", eventstore.Filter{StreamID: s1}, []int{0, 1, 4}},
		{"actor", eventstore.Filter{ActorID: actorA}, []int{0, 2, 3}},
		{"type", eventstore.Filter{Type: typeA}, []int{0, 2, 4}},
		{"one tag", eventstore.Filter{Tags: []string{tagX}}, []int{0, 1, 2, 4}},
		{"two tags", eventstore.Filter{Tags: []string{tagX, tagY}}, []int{0, 4}},
		{"two tags other order", eventstore.Filter{Tags: []string{tagY, tagX}}, []int{0, 4}},
		{"tags nobody has together", eventstore.Filter{Tags: []string{tagZ, tagY}}, nil},
		{"time range", eventstore.Filter{From: at(1), To: at(3)}, []int{1, 2}},
		{"from is inclusive", eventstore.Filter{From: at(1).Add(time.Microsecond), To: at(2)}, []int{1}},
		{"to is exclusive", eventstore.Filter{From: at(0), To: at(1).Add(time.Microsecond)}, []int{0}},
		{"tag from", eventstore.Filter{Tags: []string{tagX}, From: at(2)}, []int{2, 4}},
		{"actor to", eventstore.Filter{ActorID: actorA, To: at(2)}, []int{0}},
		{"stream and type", eventstore.Filter{StreamID: s1, Type: typeA}, []int{0, 4}},
		{"actor and tag", eventstore.Filter{ActorID: actorB, Tags: []string{tagY}}, []int{4}},
		{"actor type and tag", eventstore.Filter{ActorID: actorA, Type: typeB, Tags: []string{tagY}}, []int{3}},
		{"stream and time", eventstore.Filter{StreamID: s2, From: at(3)}, []int{3}},
		{"type and time", eventstore.Filter{Type: typeA, From: at(1), To: at(4)}, []int{2}},
		{"stream actor and type, no match", eventstore.Filter{StreamID: s1, ActorID: actorA, Type: typeB}, nil},
		{"after position", eventstore.Filter{Tags: []string{tagX}, AfterPosition: pos[1]}, []int{2, 4}},
		{"stream after position", eventstore.Filter{StreamID: s1, AfterPosition: pos[0]}, []int{1, 4}},
		{"limit", eventstore.Filter{Tags: []string{tagX}, Limit: 2}, []int{0, 1}},
		{"limit and after position", eventstore.Filter{Tags: []string{tagX}, Limit: 2, AfterPosition: pos[1]}, []int{2, 4}},
		{"time range and limit", eventstore.Filter{From: at(0), To: at(5), Limit: 3}, []int{0, 1, 2}},
		{"unknown actor", eventstore.Filter{ActorID: uuid.NewString()}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Query(t.Context(), tc.f)
			if err != nil {
				t.Fatalf("Query(%+v): %v", tc.f, err)
			}
			var want []string
			for _, i := range tc.want {
				want = append(want, evs[i].EventID)
			}
			if !slices.Equal(ids(got), want) {
				t.Fatalf("Query(%+v) = %v, want %v", tc.f, ids(got), want)
			}
			for i, r := range got {
				assertSameEvent(t, evs[tc.want[i]], r)
				if r.Position != pos[tc.want[i]] {
					t.Errorf("event %d: position %d, want %d", tc.want[i], r.Position, pos[tc.want[i]])
				}
			}
		})
	}
}

func testQueryDefaultLimit(t *testing.T, h Harness) {
	s := h.New(t)
	tag := "exam:" + uuid.NewString()
	stream := NewStreamID("test")
	evs := newEvents(eventstore.DefaultQueryLimit+1, testType)
	for i := range evs {
		evs[i].Tags = []string{tag}
	}
	mustAppend(t, s, stream, eventstore.NoStream, evs...)
	for _, f := range []eventstore.Filter{{Tags: []string{tag}}, {StreamID: stream}} {
		got, err := s.Query(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != eventstore.DefaultQueryLimit {
			t.Fatalf("Query(%+v) without a limit = %d events, want %d", f, len(got), eventstore.DefaultQueryLimit)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Position <= got[i-1].Position {
				t.Fatalf("Query results out of position order at %d", i)
			}
		}
		f.AfterPosition = got[len(got)-1].Position
		rest, err := s.Query(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) != 1 || rest[0].EventID != evs[len(evs)-1].EventID {
			t.Fatalf("second page = %v, want the last event", ids(rest))
		}
	}
}

// ---- lifecycle ----

func testClosed(t *testing.T, h Harness) {
	s := h.New(t)
	stream := NewStreamID("test")
	mustAppend(t, s, stream, eventstore.NoStream, NewEvent(testType))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := t.Context()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", op, err)
		}
	}
	_, err := s.Append(ctx, stream, eventstore.AnyVersion, []eventstore.Record{NewEvent(testType)})
	check("Append", err)
	_, err = s.Load(ctx, stream, 1)
	check("Load", err)
	_, err = s.ReadAll(ctx, 0, 10)
	check("ReadAll", err)
	_, err = s.Query(ctx, eventstore.Filter{StreamID: stream})
	check("Query", err)
	_, err = s.Head(ctx)
	check("Head", err)
	if w, ok := s.(eventstore.Waiter); ok {
		check("WaitForEvents", w.WaitForEvents(ctx, 1<<62))
	}
	if cs, ok := s.(eventstore.CheckpointStore); ok {
		_, err = cs.LoadCheckpoint(ctx, "test")
		check("LoadCheckpoint", err)
		check("SaveCheckpoint", cs.SaveCheckpoint(ctx, "test", 1))
	}
	if err := s.Close(); err != nil && !errors.Is(err, eventstore.ErrClosed) {
		t.Errorf("second Close: %v, want nil or ErrClosed", err)
	}
}

// testClosedWakesWaiter: a waiter blocked on a store that closes returns
// instead of hanging.
func testClosedWakesWaiter(t *testing.T, h Harness) {
	s := h.New(t)
	w, ok := s.(eventstore.Waiter)
	if !ok {
		t.Skip("the store does not implement Waiter")
	}
	head := mustHead(t, s)
	errc := make(chan error, 1)
	go func() { errc <- w.WaitForEvents(t.Context(), head) }()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("WaitForEvents on a closing store: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitForEvents still blocked after Close")
	}
}

func testCheckpoints(t *testing.T, h Harness) {
	s := h.New(t)
	cs, ok := s.(eventstore.CheckpointStore)
	if !ok {
		t.Skip("the store does not implement CheckpointStore")
	}
	ctx := t.Context()
	a, b := "test-"+uuid.NewString(), "test-"+uuid.NewString()
	if p, err := cs.LoadCheckpoint(ctx, a); err != nil || p != 0 {
		t.Fatalf("missing checkpoint = %d, %v; want 0, nil", p, err)
	}
	for _, p := range []uint64{5, 7, 3} {
		if err := cs.SaveCheckpoint(ctx, a, p); err != nil {
			t.Fatal(err)
		}
		if got, err := cs.LoadCheckpoint(ctx, a); err != nil || got != p {
			t.Fatalf("checkpoint = %d, %v; want %d", got, err, p)
		}
	}
	if p, err := cs.LoadCheckpoint(ctx, b); err != nil || p != 0 {
		t.Fatalf("other checkpoint = %d, %v; want 0", p, err)
	}
}

func testWaiterWakes(t *testing.T, h Harness) {
	s := h.New(t)
	w, ok := s.(eventstore.Waiter)
	if !ok {
		t.Skip("the store does not implement Waiter")
	}
	head := mustHead(t, s)
	errc := make(chan error, 1)
	go func() { errc <- w.WaitForEvents(t.Context(), head) }()
	time.Sleep(20 * time.Millisecond)
	mustAppend(t, s, NewStreamID("test"), eventstore.NoStream, NewEvent(testType))
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("WaitForEvents: %v", err)
		}
	// A liveness bound, not a latency target: a feed read behind a
	// consistency delay (Cassandra) on a loaded two-core machine can take
	// seconds to show the event; never showing it is the failure.
	case <-time.After(30 * time.Second):
		t.Fatal("WaitForEvents did not wake up on an append within 30 s")
	}
	// Already past: returns at once. Not yet there: honours the context.
	if err := w.WaitForEvents(t.Context(), head); err != nil {
		t.Fatalf("WaitForEvents below head: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := w.WaitForEvents(ctx, mustHead(t, s)+1<<40); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForEvents beyond head: %v, want DeadlineExceeded", err)
	}
}

func testReopen(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("the harness cannot reopen a store")
	}
	s := h.New(t)
	stream := NewStreamID("test")
	evs := newEvents(3, testType)
	first := mustAppend(t, s, stream, eventstore.NoStream, evs[:2]...)
	second := mustAppend(t, s, stream, 2, evs[2])
	head := mustHead(t, s)

	s = h.Reopen(t, s)
	recs := mustLoad(t, s, stream, 1)
	if len(recs) != 3 {
		t.Fatalf("after reopen the stream holds %d events, want 3", len(recs))
	}
	for i, r := range recs {
		want := evs[i]
		want.StreamID = stream
		assertSameEvent(t, want, r)
		if r.Version != int64(i+1) {
			t.Errorf("version %d, want %d", r.Version, i+1)
		}
	}
	if recs[2].Position != second.LastPosition || recs[1].Position != first.LastPosition {
		t.Errorf("positions after reopen %d, %d; want %d, %d", recs[1].Position, recs[2].Position, first.LastPosition, second.LastPosition)
	}
	if got := mustHead(t, s); got < head {
		t.Errorf("Head after reopen = %d, was %d", got, head)
	}
	own := readOwn(t, s, first.LastPosition-1, 100, map[string]bool{stream: true}, 2)
	if own[0].EventID != evs[1].EventID || own[1].EventID != evs[2].EventID {
		t.Errorf("ReadAll after reopen = %v", ids(own))
	}
	// A retry is still recognised, and appends continue where they were.
	res, err := s.Append(t.Context(), stream, eventstore.NoStream, evs[:2])
	if err != nil || !res.Duplicate || res.FromVersion != 1 || res.ToVersion != 2 || res.LastPosition != first.LastPosition {
		t.Errorf("retry after reopen = %+v, %v; want the original result as a duplicate", res, err)
	}
	_, err = s.Append(t.Context(), stream, 2, []eventstore.Record{NewEvent(testType)})
	assertConflict(t, err, stream, 2, 3)
	res = mustAppend(t, s, stream, 3, NewEvent(testType))
	if res.FromVersion != 4 || res.LastPosition <= head {
		t.Errorf("append after reopen = %+v, want version 4 at a position above %d", res, head)
	}
	other := mustAppend(t, s, NewStreamID("test"), eventstore.NoStream, NewEvent(testType))
	if other.LastPosition <= res.LastPosition {
		t.Errorf("positions after reopen not increasing: %d then %d", res.LastPosition, other.LastPosition)
	}
}

func testReopenCheckpoints(t *testing.T, h Harness) {
	if h.Reopen == nil {
		t.Skip("the harness cannot reopen a store")
	}
	s := h.New(t)
	cs, ok := s.(eventstore.CheckpointStore)
	if !ok {
		t.Skip("the store does not implement CheckpointStore")
	}
	name := "test-" + uuid.NewString()
	if err := cs.SaveCheckpoint(t.Context(), name, 42); err != nil {
		t.Fatal(err)
	}
	s = h.Reopen(t, s)
	cs, ok = s.(eventstore.CheckpointStore)
	if !ok {
		t.Fatal("the reopened store does not implement CheckpointStore")
	}
	if p, err := cs.LoadCheckpoint(t.Context(), name); err != nil || p != 42 {
		t.Fatalf("checkpoint after reopen = %d, %v; want 42", p, err)
	}
}
