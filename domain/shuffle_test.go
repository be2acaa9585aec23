package domain

import (
	"fmt"
	"slices"
	"testing"
)

func TestStudentPermutation(t *testing.T) {
	for n := 0; n <= 40; n++ {
		p := StudentPermutation(n, "exam", fmt.Sprint(n))
		seen := make([]bool, n)
		for _, i := range p {
			if i < 0 || i >= n || seen[i] {
				t.Fatalf("n=%d: %v is not a permutation", n, p)
			}
			seen[i] = true
		}
		if !slices.Equal(p, StudentPermutation(n, "exam", fmt.Sprint(n))) {
			t.Fatalf("n=%d: two calls differ", n)
		}
	}
	distinct := map[string]bool{}
	for s := 0; s < 20; s++ {
		distinct[fmt.Sprint(QuestionPermutation("e1", fmt.Sprintf("student-%d", s), 10))] = true
	}
	if len(distinct) < 15 {
		t.Fatalf("20 students share %d orders of 10 questions", len(distinct))
	}
	// Seed parts are separated: ("ab","c") and ("a","bc") differ.
	if slices.Equal(StudentPermutation(12, "ab", "c"), StudentPermutation(12, "a", "bc")) {
		t.Fatal("seed parts run together")
	}
}

// TestStudentPermutationGolden pins the derivation: a change here reorders
// every running exam for its students (and their result views), so it must
// never happen by accident.
func TestStudentPermutationGolden(t *testing.T) {
	got := QuestionPermutation("3f2b6c1e-0000-4000-8000-000000000001", "9a7d0c55-0000-4000-8000-000000000002", 10)
	want := []int{6, 3, 2, 9, 4, 8, 0, 7, 1, 5}
	if !slices.Equal(got, want) {
		t.Fatalf("permutation %v, want %v", got, want)
	}
}
