package embedded

import (
	"fmt"
	"testing"
)

// TestIDFilter: every added id is found (no false negatives), across the
// segments added as the filter grows, and the false positive rate stays
// small.
func TestIDFilter(t *testing.T) {
	f := newIDFilter(10_000)
	const n = 200_000 // segments of 10k, 20k, 60k and 180k ids
	for i := range n {
		f.add(f.hash(fmt.Sprintf("0b6c2f0e-5d9f-4a55-9f2a-%012d", i)))
	}
	if f.count() != n || len(f.segs) != 4 {
		t.Fatalf("count %d in %d segments, want %d in 4", f.count(), len(f.segs), n)
	}
	for i := range n {
		if !f.mayContain(f.hash(fmt.Sprintf("0b6c2f0e-5d9f-4a55-9f2a-%012d", i))) {
			t.Fatalf("id %d added but not found", i)
		}
	}
	fp := 0
	for i := range n {
		if f.mayContain(f.hash(fmt.Sprintf("7e1d08c4-5d9f-4a55-9f2a-%012d", i))) {
			fp++
		}
	}
	// Each segment is under 1% when full; a lookup checks all four.
	if rate := float64(fp) / n; rate > 0.02 {
		t.Fatalf("false positive rate %.4f", rate)
	}
	t.Logf("false positives: %d of %d (%.3f%%), %d bytes", fp, n, 100*float64(fp)/n, f.bytes())

	one := newIDFilter(n)
	for i := range n {
		one.add(one.hash(fmt.Sprintf("0b6c2f0e-5d9f-4a55-9f2a-%012d", i)))
	}
	fp = 0
	for i := range n {
		if one.mayContain(one.hash(fmt.Sprintf("7e1d08c4-5d9f-4a55-9f2a-%012d", i))) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.01 {
		t.Fatalf("one full segment: false positive rate %.4f", rate)
	}
	t.Logf("one full segment: false positives %d of %d (%.3f%%), %d bytes", fp, n, 100*float64(fp)/n, one.bytes())
}
