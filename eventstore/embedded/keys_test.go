package embedded

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
)

func TestRecordEncodingRoundTrip(t *testing.T) {
	full := eventstoretest.NewEvent("exam.published.v1")
	full.StreamID, full.Version = "exam-1", 7
	cases := map[string]eventstore.Record{
		"full envelope":    full,
		"only required":    {EventID: "e", StreamID: "s", Version: 1, Type: "t", OccurredAt: time.Unix(0, 0).UTC()},
		"zero time":        {EventID: "e", StreamID: "s", Version: 1, Type: "t"},
		"before 1970":      {EventID: "e", StreamID: "s", Version: 1, Type: "t", OccurredAt: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		"empty tag":        {EventID: "e", StreamID: "s", Version: 1, Type: "t", Tags: []string{""}, OccurredAt: time.Unix(1, 5).UTC()},
		"binary data":      {EventID: "e", StreamID: "s", Version: 1 << 40, Type: "t", Data: []byte{0, 1, 0xff}, OccurredAt: time.Unix(1, 5).UTC()},
		"non-UTC location": {EventID: "e", StreamID: "s", Version: 2, Type: "t", OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 7200))},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			enc := encodeRecord(nil, &r)
			got, err := decodeRecord(enc, 42)
			if err != nil {
				t.Fatal(err)
			}
			want := r
			want.Position = 42
			want.OccurredAt = r.OccurredAt.UTC()
			if len(want.Data) == 0 {
				want.Data = nil
			}
			if !reflect.DeepEqual(got, want) || !got.OccurredAt.Equal(r.OccurredAt) {
				t.Fatalf("round trip:\n got  %#v\n want %#v", got, want)
			}
			// Every truncation is rejected, never a panic.
			for i := range enc {
				if _, err := decodeRecord(enc[:i], 1); err == nil {
					t.Fatalf("truncated to %d bytes: no error", i)
				}
			}
			if _, err := decodeRecord(append(slices.Clone(enc), 0), 1); err == nil {
				t.Fatal("trailing byte: no error")
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	r := eventstoretest.NewEvent("t")
	r.StreamID, r.Version = "s-1", 3
	f.Add(encodeRecord(nil, &r))
	f.Add([]byte{recordFormat, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(b, 1)
		if err != nil {
			return
		}
		// Whatever decodes survives a round trip unchanged.
		again, err := decodeRecord(encodeRecord(nil, &rec), 1)
		if err != nil || !reflect.DeepEqual(again, rec) {
			t.Fatalf("round trip of %x: %#v, %v; want %#v", b, again, err, rec)
		}
	})
}

func TestMinuteOfFloors(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want int64
	}{
		{time.Unix(0, 0), 0},
		{time.Unix(59, 999), 0},
		{time.Unix(60, 0), 1},
		{time.Unix(-1, 0), -1},
		{time.Unix(-60, 0), -1},
		{time.Unix(-61, 0), -2},
	} {
		if got := minuteOf(tc.t); got != tc.want {
			t.Errorf("minuteOf(%v) = %d, want %d", tc.t.Unix(), got, tc.want)
		}
	}
	// Byte order of the time index is time order, across 1970.
	a, b := timePrefix(nil, minuteOf(time.Unix(-120, 0))), timePrefix(nil, minuteOf(time.Unix(120, 0)))
	if bytes.Compare(a, b) >= 0 {
		t.Fatal("time index keys out of order across 1970")
	}
}

// TestTimeQueryAcrossMinutesInOneGroup: one append whose events fall in
// minutes far apart, around other events, queried by time ranges.
func TestTimeQueryAcrossMinutesInOneGroup(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	base := time.Date(1969, 12, 31, 23, 58, 30, 0, time.UTC) // straddles 1970
	offsets := []time.Duration{0, 10 * time.Minute, -5 * time.Minute, 90 * time.Second, 10*time.Minute + time.Second, time.Hour}
	evs := make([]eventstore.Record, len(offsets))
	for i, off := range offsets {
		evs[i] = eventstoretest.NewEvent("test.t.v1")
		evs[i].OccurredAt = base.Add(off)
	}
	stream := eventstoretest.NewStreamID("test")
	other := eventstoretest.NewEvent("test.t.v1")
	other.OccurredAt = base.Add(2 * time.Minute)
	if _, err := s.Append(ctx, eventstoretest.NewStreamID("test"), eventstore.NoStream, []eventstore.Record{other}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, stream, eventstore.NoStream, evs); err != nil {
		t.Fatal(err)
	}
	all := append([]eventstore.Record{other}, evs...) // position order
	ids := func(recs ...eventstore.Record) []string {
		out := []string{}
		for _, r := range recs {
			out = append(out, r.EventID)
		}
		return out
	}
	var zero time.Time
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{"first minute", base, base.Add(time.Minute), ids(evs[0])},
		{"before 1970", base.Add(-5 * time.Minute), base, ids(evs[2])},
		{"two groups", base.Add(time.Minute), base.Add(3 * time.Minute), ids(other, evs[3])},
		{"to is exclusive", base.Add(10 * time.Minute), base.Add(10*time.Minute + time.Second), ids(evs[1])},
		{"same minute", base.Add(10 * time.Minute), base.Add(10*time.Minute + 2*time.Second), ids(evs[1], evs[4])},
		{"everything", base.Add(-time.Hour), base.Add(2 * time.Hour), ids(all...)},
		{"from only", base.Add(30 * time.Minute), zero, ids(evs[5])},
		{"to only", zero, base.Add(-time.Minute), ids(evs[2])},
		{"nothing", base.Add(20 * time.Minute), base.Add(30 * time.Minute), ids()},
	} {
		got, err := s.Query(ctx, eventstore.Filter{From: tc.from, To: tc.to})
		if err != nil {
			t.Fatal(err)
		}
		if g := ids(got...); !slices.Equal(g, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, g, tc.want)
		}
	}
	// Paging through a time range.
	page, err := s.Query(ctx, eventstore.Filter{From: base.Add(-time.Hour), Limit: 3})
	if err != nil || !slices.Equal(ids(page...), ids(all[:3]...)) {
		t.Fatalf("first page = %v, %v", ids(page...), err)
	}
	page, err = s.Query(ctx, eventstore.Filter{From: base.Add(-time.Hour), Limit: 3, AfterPosition: page[2].Position})
	if err != nil || !slices.Equal(ids(page...), ids(all[3:6]...)) {
		t.Fatalf("second page = %v, %v", ids(page...), err)
	}
}
