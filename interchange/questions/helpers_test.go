package questions

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/examhall/exam/domain"
)

// want is what a test expects of one item; Unsupported is a substring of
// the reason.
type want struct {
	Title       string
	Text        string
	Kind        domain.QuestionKind
	Choices     []string // texts; keys are checked by Keys when set
	Keys        []string
	Correct     []string
	Points      float64
	Negative    float64
	Image       bool
	Unsupported string
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func checkItems(t *testing.T, got []Item, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		for _, it := range got {
			t.Logf("item %d %q: %q %s %v", it.Index, it.Title, it.Question.Text, it.Question.Kind, it.Unsupported)
		}
		t.Fatalf("%d items, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		it := got[i]
		if it.Index != i {
			t.Errorf("item %d has index %d", i, it.Index)
		}
		if w.Title != "" && it.Title != w.Title {
			t.Errorf("item %d: title %q, want %q", i, it.Title, w.Title)
		}
		if w.Unsupported != "" {
			if !strings.Contains(it.Unsupported, w.Unsupported) {
				t.Errorf("item %d (%q): unsupported %q, want it to say %q", i, it.Title, it.Unsupported, w.Unsupported)
			}
			continue
		}
		if it.Unsupported != "" {
			t.Errorf("item %d (%q): unsupported: %s", i, it.Title, it.Unsupported)
			continue
		}
		q := it.Question
		if q.Text != w.Text {
			t.Errorf("item %d: text %q, want %q", i, q.Text, w.Text)
		}
		if q.Kind != w.Kind {
			t.Errorf("item %d: kind %s, want %s", i, q.Kind, w.Kind)
		}
		var texts, keys []string
		for _, c := range q.Choices {
			texts = append(texts, c.Text)
			keys = append(keys, c.Key)
		}
		if w.Kind != domain.KindTrueFalse && !reflect.DeepEqual(texts, w.Choices) {
			t.Errorf("item %d: choices %q, want %q", i, texts, w.Choices)
		}
		if w.Keys != nil && !reflect.DeepEqual(keys, w.Keys) {
			t.Errorf("item %d: keys %q, want %q", i, keys, w.Keys)
		}
		if !reflect.DeepEqual(q.Correct, w.Correct) {
			t.Errorf("item %d: correct %q, want %q", i, q.Correct, w.Correct)
		}
		if q.Points == nil || *q.Points != w.Points {
			t.Errorf("item %d: points %v, want %v", i, ptr(q.Points), w.Points)
		}
		if ptr(q.NegativePoints) != w.Negative {
			t.Errorf("item %d: negative points %v, want %v", i, ptr(q.NegativePoints), w.Negative)
		}
		if (it.Image != nil) != w.Image {
			t.Errorf("item %d: image %d bytes, want one: %v", i, len(it.Image), w.Image)
		}
	}
}

func ptr(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// wantMalformed checks err is a *MalformedError whose message says reason.
func wantMalformed(t *testing.T, err error, reason string) {
	t.Helper()
	var me *MalformedError
	if !errors.As(err, &me) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v (%T), want a *MalformedError", err, err)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Fatalf("error %q, want it to say %q", err, reason)
	}
}

// zipPackage is a Package over an in-memory zip (the API opens uploads
// with internal/safezip; the parser only needs ReadFile).
type zipPackage struct{ zr *zip.Reader }

func (p zipPackage) ReadFile(name string) ([]byte, error) { return fs.ReadFile(p.zr, name) }

func openZip(t testing.TB, data []byte) Package {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return zipPackage{zr}
}

func makeZip(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// onePixelPNG is a valid 1×1 PNG.
var onePixelPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\xdac\xfc\xcf\xc0\xf0\x1f\x00\x05\x05\x02\x00_\xc8\xf1\xd2\x00\x00\x00\x00IEND\xaeB`\x82")
