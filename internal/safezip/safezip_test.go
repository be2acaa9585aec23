package safezip_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/examhall/exam/internal/safezip"
)

func archive(t testing.TB, parts map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, data := range parts {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var small = safezip.Limits{MaxEntries: 4, MaxPartBytes: 1000, MaxTotalBytes: 1500}

func TestWithinLimitsReads(t *testing.T) {
	data := archive(t, map[string][]byte{"a.xml": bytes.Repeat([]byte("a"), 900), "b.xml": []byte("bee")})
	r, err := safezip.NewReader(bytes.NewReader(data), int64(len(data)), small)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadFile("b.xml")
	if err != nil || string(got) != "bee" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	if _, err := r.ReadFile("missing.xml"); err == nil {
		t.Fatal("a missing entry must be an error")
	}
}

func TestRefusesBeforeInflating(t *testing.T) {
	cases := map[string]map[string][]byte{
		"one part too large": {"a": bytes.Repeat([]byte("a"), 1001)},
		"total too large":    {"a": bytes.Repeat([]byte("a"), 800), "b": bytes.Repeat([]byte("b"), 800)},
		"too many entries":   {"1": nil, "2": nil, "3": nil, "4": nil, "5": nil},
	}
	for name, parts := range cases {
		t.Run(name, func(t *testing.T) {
			data := archive(t, parts)
			if err := safezip.Check(bytes.NewReader(data), int64(len(data)), small); !errors.Is(err, safezip.ErrTooLarge) {
				t.Fatalf("Check = %v, want ErrTooLarge", err)
			}
		})
	}
}

// A header that understates the size must not let more than the limit
// through: archive/zip stops at the declared size, and so do we.
func TestLyingHeaderIsCaught(t *testing.T) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, err := w.CreateHeader(&zip.FileHeader{Name: "bomb.xml", Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	f.Write(bytes.Repeat([]byte("x"), 5000))
	w.Close()
	data := buf.Bytes()
	// Rewrite the central directory's uncompressed size (offset 24 in the
	// central header) to claim 10 bytes.
	cd := bytes.LastIndex(data, []byte("PK\x01\x02"))
	copy(data[cd+24:cd+28], []byte{10, 0, 0, 0})
	r, err := safezip.NewReader(bytes.NewReader(data), int64(len(data)), small)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadFile("bomb.xml")
	if err == nil {
		t.Fatalf("read %d bytes of a part declared as 10", len(got))
	}
}

func TestNotZip(t *testing.T) {
	if err := safezip.Check(strings.NewReader("email,score\n"), 12, small); !errors.Is(err, safezip.ErrNotZip) {
		t.Fatalf("Check = %v, want ErrNotZip", err)
	}
}

func FuzzNewReader(f *testing.F) {
	f.Add(archive(f, map[string][]byte{"a": []byte("hello")}))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := safezip.NewReader(bytes.NewReader(data), int64(len(data)), small)
		if err != nil {
			if !errors.Is(err, safezip.ErrTooLarge) && !errors.Is(err, safezip.ErrNotZip) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		var total int
		for _, e := range r.Files() {
			b, err := r.ReadEntry(e)
			total += len(b)
			if err == nil && int64(len(b)) > small.MaxPartBytes {
				t.Fatalf("part of %d bytes read", len(b))
			}
		}
		if int64(total) > small.MaxTotalBytes {
			t.Fatalf("read %d bytes in all", total)
		}
	})
}
