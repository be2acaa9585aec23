package domain

import (
	"crypto/sha256"
	"encoding/binary"
)

// Shuffling (API.md "Exam room"): a student's order of questions and of a
// question's choices is derived from the exam id, the student id (and the
// question id), never drawn at random, so it is the same on every fetch,
// replica, restart and rebuild, and needs no event. The permutation is our
// own Fisher–Yates over SHA-256 output, not math/rand's, whose algorithms a
// Go release may change.

// StudentPermutation is a permutation of 0..n-1 fixed by the seed parts.
func StudentPermutation(n int, seed ...string) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	h := sha256.New()
	for _, s := range seed {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	key := h.Sum(nil)
	var block []byte
	var counter uint64
	next := func() uint64 {
		if len(block) < 8 {
			b := sha256.New()
			b.Write(key)
			var c [8]byte
			binary.BigEndian.PutUint64(c[:], counter)
			counter++
			b.Write(c[:])
			block = b.Sum(nil)
		}
		v := binary.BigEndian.Uint64(block[:8])
		block = block[8:]
		return v
	}
	for i := n - 1; i > 0; i-- {
		// The modulo bias is below 2^-50 for any exam's size.
		j := int(next() % uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// QuestionPermutation is the student's order of an exam's n questions
// (indexes into the authoring order), for an exam with shuffle_questions.
func QuestionPermutation(examID, studentID string, n int) []int {
	return StudentPermutation(n, "questions", examID, studentID)
}

// ChoicePermutation is the student's order of a question's n choices, for
// an exam with shuffle_choices (true/false questions are never shuffled:
// see ShufflesChoices).
func ChoicePermutation(examID, questionID, studentID string, n int) []int {
	return StudentPermutation(n, "choices", examID, questionID, studentID)
}

// ShufflesChoices reports whether a question of this kind has its choices
// shuffled: true/false keeps true, false.
func ShufflesChoices(kind QuestionKind) bool { return kind != KindTrueFalse }
