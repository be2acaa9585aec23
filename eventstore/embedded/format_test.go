package embedded

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/eventstoretest"
)

// writeRaw writes keys into a pebble directory the way another version of
// the store might have.
func writeRaw(t *testing.T, dir string, kv ...[]byte) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if err := db.Set(kv[i], kv[i+1], pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesOtherDataFormats(t *testing.T) {
	t.Run("format 1 events", func(t *testing.T) {
		dir := t.TempDir()
		// A format 1 store: events, a per-event tag key, no format key.
		writeRaw(t, dir, logKey(nil, 1), []byte{1}, appendU64(pairPrefix(nil, prefixTag, "exam:1"), 1), nil)
		_, err := Open(dir, testOptions)
		if !errors.Is(err, errDataFormat) || !strings.Contains(err.Error(), "format 1") {
			t.Fatalf("Open = %v, want errDataFormat naming format 1", err)
		}
	})
	t.Run("a later format", func(t *testing.T) {
		dir := t.TempDir()
		writeRaw(t, dir, metaFormatKey, binary.AppendUvarint(nil, dataFormat+1))
		if _, err := Open(dir, testOptions); !errors.Is(err, errDataFormat) {
			t.Fatalf("Open = %v, want errDataFormat", err)
		}
	})
	t.Run("checkpoints only", func(t *testing.T) {
		// Nothing in a directory without events depends on the layout: it
		// is stamped with the current format and opens.
		dir := t.TempDir()
		writeRaw(t, dir, checkpointKey(nil, "relay"), appendU64(nil, 0))
		s := openTest(t, dir)
		if _, err := s.Append(t.Context(), "test-1", eventstore.NoStream, []eventstore.Record{eventstoretest.NewEvent("t.v1")}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openTest(t, dir)
		if recs, err := s.Load(t.Context(), "test-1", 1); err != nil || len(recs) != 1 {
			t.Fatalf("after reopen: %d events, %v", len(recs), err)
		}
	})
}
