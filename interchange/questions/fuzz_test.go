package questions

import (
	"archive/zip"
	"bytes"
	"errors"
	"testing"

	"github.com/examhall/exam/domain"
)

// checkParsed is what every parser promises for any input: items numbered
// 0…n-1 and each supported one valid for the domain, or a *MalformedError
// (never a panic, never another error).
func checkParsed(t *testing.T, items []Item, err error) {
	t.Helper()
	if err != nil {
		var me *MalformedError
		if !errors.As(err, &me) {
			t.Fatalf("not a *MalformedError: %T %v", err, err)
		}
		if items != nil {
			t.Fatalf("items with an error")
		}
		return
	}
	if len(items) == 0 || len(items) > MaxItems {
		t.Fatalf("%d items", len(items))
	}
	for i, it := range items {
		if it.Index != i {
			t.Fatalf("item %d has index %d", i, it.Index)
		}
		if it.Unsupported != "" {
			continue
		}
		if _, err := domain.NormalizeQuestion(it.Question, func() string { return "x" }, ""); err != nil {
			t.Fatalf("supported item %d is invalid: %v", i, err)
		}
		if it.Image != nil && domain.SniffImageType(it.Image) == "" {
			t.Fatalf("item %d has an image that is none", i)
		}
	}
}

func FuzzParseGIFT(f *testing.F) {
	f.Add(fixture(f, "awkward.gift"))
	f.Add(ExportGIFT(bank(f)))
	f.Add([]byte("::t::[html]<b>x</b> {~%50%a ~%50%b ~%-100%c}"))
	f.Add([]byte("Q {=a\\} ~b\\"))
	f.Add([]byte("// examhall: points=2 kind=multiple\nQ {~%100%a ~b}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := ParseGIFT(data)
		checkParsed(t, items, err)
	})
}

func FuzzParseAiken(f *testing.F) {
	f.Add(fixture(f, "bank.aiken"))
	f.Add([]byte("Q\nA. x\nB) y\nANSWER: B\n"))
	f.Add([]byte("ANSWER: A"))
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := ParseAiken(data)
		checkParsed(t, items, err)
	})
}

func FuzzParseMoodleXML(f *testing.F) {
	f.Add(fixture(f, "bank.xml"))
	data, _ := ExportMoodleXML(bank(f), nil)
	f.Add(data)
	f.Add([]byte(`<quiz><question type="truefalse"><answer fraction="100"><text>TRUE</text></answer></question></quiz>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := ParseMoodleXML(data)
		checkParsed(t, items, err)
	})
}

func FuzzParseQTIItem(f *testing.F) {
	f.Add(fixture(f, "item21.xml"))
	f.Add(fixture(f, "item30.xml"))
	f.Add(qtiItemXML("i", bank(f)[0], ""))
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := ParseQTIItem(data)
		checkParsed(t, items, err)
	})
}

// FuzzParseQTIPackage fuzzes the package reader over any zip the bytes
// happen to be (most are none: then there is nothing to check).
func FuzzParseQTIPackage(f *testing.F) {
	data, _ := ExportQTIPackage(bank(f), nil)
	f.Add(data)
	f.Add(makeZip(f, map[string]string{"imsmanifest.xml": manifest21, "items/second.xml": string(fixture(f, "item21.xml"))}))
	f.Fuzz(func(t *testing.T, data []byte) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		items, err := ParseQTIPackage(zipPackage{zr})
		if err != nil && !errors.Is(err, ErrMalformed) {
			// Errors of the zip itself (a corrupt entry) are the
			// caller's to map; anything else is a bug.
			var ze interface{ Error() string }
			if !errors.As(err, &ze) || errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrAlgorithm) {
				return
			}
			t.Fatalf("unexpected error %T %v", err, err)
		}
		if err == nil {
			checkParsed(t, items, nil)
		}
	})
}

// FuzzDetect: whatever Detect says, Parse of that format does not panic.
func FuzzDetect(f *testing.F) {
	for _, name := range []string{"awkward.gift", "bank.aiken", "bank.xml", "item21.xml"} {
		f.Add(fixture(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		format, ok := Detect(data)
		if !ok || IsZip(data) {
			return
		}
		items, err := Parse(format, data)
		checkParsed(t, items, err)
	})
}
