package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/eventstore"
)

// TestQueryMatchesModel appends random events (streams whose actors and tags
// mostly repeat, sometimes change, sometimes are missing; one stream with
// more distinct tags than the committer remembers per stream; a stream
// cache small enough to be evicted; a reopen half way) and checks that
// Query, for many random filters with paging, returns exactly what a brute
// force filter over ReadAll returns.
func TestQueryMatchesModel(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions
	opts.StreamCacheSize = 4
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

	type streamSpec struct {
		id    string
		actor string
		tags  []string
	}
	var streams []streamSpec
	for i := range 14 {
		streams = append(streams, streamSpec{
			id:    fmt.Sprintf("attempt-%d", i),
			actor: fmt.Sprintf("actor-%d", i%5),
			tags:  []string{fmt.Sprintf("exam:%d", i%3), fmt.Sprintf("student:%d", i%5)},
		})
	}
	event := func(sp streamSpec, n int) eventstore.Record {
		ev := eventstore.Record{
			EventID:    fmt.Sprintf("ev-%s-%d-%d", sp.id, n, rng.Int64()),
			Type:       []string{"t.saved.v1", "t.started.v1", "t.scored.v1"}[rng.IntN(3)],
			OccurredAt: base.Add(time.Duration(rng.IntN(40*60)) * time.Second),
			ActorID:    sp.actor,
			Tags:       slices.Clone(sp.tags),
			Data:       []byte(`{}`),
		}
		switch r := rng.IntN(20); {
		case r == 0:
			ev.ActorID = ""
		case r == 1:
			ev.ActorID = fmt.Sprintf("actor-%d", rng.IntN(7))
		case r == 2:
			ev.Tags = nil
		case r == 3:
			ev.Tags = ev.Tags[:1]
		case r == 4:
			ev.Tags = append(ev.Tags, fmt.Sprintf("extra:%d", rng.IntN(3)))
		}
		if sp.id == "attempt-0" {
			// More distinct tags than a stream's cached pairs hold.
			ev.Tags = append(ev.Tags, fmt.Sprintf("many:%d", rng.IntN(2*maxCachedPairs)))
		}
		return ev
	}
	appendSome := func(rounds int) {
		for range rounds {
			var wg sync.WaitGroup
			for w := range 8 {
				sp := streams[(w*3+rng.IntN(len(streams)))%len(streams)]
				evs := make([]eventstore.Record, 1+rng.IntN(4))
				for i := range evs {
					evs[i] = event(sp, i)
				}
				wg.Go(func() {
					if _, err := s.Append(ctx, sp.id, eventstore.AnyVersion, evs); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}
	}
	appendSome(30)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, opts); err != nil {
		t.Fatal(err)
	}
	appendSome(30)

	all, err := s.ReadAll(ctx, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	head := all[len(all)-1].Position
	pick := func(vals ...string) string { return vals[rng.IntN(len(vals))] }
	for q := range 600 {
		var f eventstore.Filter
		if rng.IntN(5) == 0 {
			f.StreamID = fmt.Sprintf("attempt-%d", rng.IntN(len(streams)+1))
		}
		if rng.IntN(5) < 2 {
			f.ActorID = fmt.Sprintf("actor-%d", rng.IntN(8))
		}
		for range rng.IntN(3) {
			f.Tags = append(f.Tags, pick(
				fmt.Sprintf("exam:%d", rng.IntN(4)), fmt.Sprintf("student:%d", rng.IntN(6)),
				fmt.Sprintf("extra:%d", rng.IntN(3)), fmt.Sprintf("many:%d", rng.IntN(2*maxCachedPairs))))
		}
		if rng.IntN(3) == 0 {
			f.Type = pick("t.saved.v1", "t.started.v1", "t.scored.v1", "t.none.v1")
		}
		if rng.IntN(4) == 0 {
			f.From = base.Add(time.Duration(rng.IntN(40)) * time.Minute)
		}
		if rng.IntN(4) == 0 {
			f.To = base.Add(time.Duration(rng.IntN(40)) * time.Minute)
		}
		if rng.IntN(2) == 0 {
			f.AfterPosition = rng.Uint64N(head + 2)
		}
		if rng.IntN(3) > 0 {
			f.Limit = 1 + rng.IntN(40)
		}
		want := modelQuery(all, f)
		got, err := s.Query(ctx, f)
		if err != nil {
			t.Fatalf("query %d %+v: %v", q, f, err)
		}
		if !slices.Equal(positions(got), positions(want)) {
			t.Fatalf("query %d %+v:\n got  %v\n want %v", q, f, positions(got), positions(want))
		}
		for i := range got {
			if got[i].EventID != want[i].EventID {
				t.Fatalf("query %d: event %d is %s, want %s", q, i, got[i].EventID, want[i].EventID)
			}
		}
		// Paging through the same filter ends with the same events.
		if f.Limit > 0 && len(got) == f.Limit {
			paged := pageAll(ctx, t, s, f)
			f.Limit = 1_000_000
			if w := modelQuery(all, f); !slices.Equal(positions(paged), positions(w)) {
				t.Fatalf("query %d %+v paged:\n got  %v\n want %v", q, f, positions(paged), positions(w))
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func pageAll(ctx context.Context, t *testing.T, s *Store, f eventstore.Filter) []eventstore.Record {
	t.Helper()
	var out []eventstore.Record
	for {
		page, err := s.Query(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out
		}
		f.AfterPosition = page[len(page)-1].Position
	}
}

// modelQuery is Query by brute force over every record.
func modelQuery(all []eventstore.Record, f eventstore.Filter) []eventstore.Record {
	limit := f.Limit
	if limit <= 0 {
		limit = eventstore.DefaultQueryLimit
	}
	var out []eventstore.Record
	for _, r := range all {
		if len(out) == limit {
			break
		}
		ok := r.Position > f.AfterPosition &&
			(f.StreamID == "" || r.StreamID == f.StreamID) &&
			(f.ActorID == "" || r.ActorID == f.ActorID) &&
			(f.Type == "" || r.Type == f.Type) &&
			(f.From.IsZero() || !r.OccurredAt.Before(f.From)) &&
			(f.To.IsZero() || r.OccurredAt.Before(f.To))
		for _, tag := range f.Tags {
			ok = ok && slices.Contains(r.Tags, tag)
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

func positions(recs []eventstore.Record) []uint64 {
	out := []uint64{}
	for _, r := range recs {
		out = append(out, r.Position)
	}
	return out
}

// TestQueryManyStreams: tag queries over more streams than byPairs reads of
// a pair list at a time, alone and intersected with a rarer tag or actor.
func TestQueryManyStreams(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	const streams = 2*pairChunk + 37
	var wg sync.WaitGroup
	for i := range streams {
		wg.Go(func() {
			for v := range 2 {
				ev := eventstore.Record{
					EventID: fmt.Sprintf("many-%d-%d", i, v), Type: "t.v1", ActorID: fmt.Sprintf("student-%d", i%50),
					Tags: []string{"exam:big", fmt.Sprintf("student:%d", i%50)}, OccurredAt: time.Unix(0, 0).UTC(),
				}
				if _, err := s.Append(ctx, fmt.Sprintf("attempt-%04d", i), int64(v), []eventstore.Record{ev}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	all, err := s.ReadAll(ctx, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []eventstore.Filter{
		{Tags: []string{"exam:big"}, Limit: 1000},
		{Tags: []string{"exam:big"}, Limit: 7, AfterPosition: all[300].Position},
		{Tags: []string{"exam:big", "student:7"}},
		{Tags: []string{"student:7", "exam:big"}},
		{ActorID: "student-7", Tags: []string{"exam:big"}},
		{ActorID: "student-7", Tags: []string{"student:8"}},
	} {
		got, err := s.Query(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if want := modelQuery(all, f); !slices.Equal(positions(got), positions(want)) || len(want) == 0 && f.ActorID == "" {
			t.Fatalf("Query(%+v):\n got  %v\n want %v", f, positions(got), positions(want))
		}
	}
}
