package domain

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// statsQuestions is the exam of the item statistics tests (max 8):
//
//	s1 single      a b c    key b     2 points, −0.5 when wrong
//	s2 multiple    a b c d  key a c   3 points, partial credit
//	s3 true_false           key true  1 point
//	s4 single      a b      key a     2 points
func statsQuestions() []Question {
	return []Question{
		{ID: "s1", Kind: KindSingle, Choices: keyed("a", "b", "c"), Correct: []string{"b"}, Points: 2, NegativePoints: 0.5},
		{ID: "s2", Kind: KindMultiple, Choices: keyed("a", "b", "c", "d"), Correct: []string{"a", "c"}, Points: 3},
		{ID: "s3", Kind: KindTrueFalse, Choices: keyed("true", "false"), Correct: []string{"true"}, Points: 1},
		{ID: "s4", Kind: KindSingle, Choices: keyed("a", "b"), Correct: []string{"a"}, Points: 2},
	}
}

func counts(kv ...any) map[string]int {
	m := map[string]int{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(int)
	}
	return m
}

// sixAttempts, scored by hand:
//
//	A  s1 b  2     s2 a,c    3            s3 true  1   s4 a  2   → 8
//	B  s1 b  2     s2 a      3×1/2 = 1.5  s3 true  1   s4 a  2   → 6.5
//	C  s1 b  2     s2 a,c,d  3×1/2 = 1.5  s3 false 0   s4 —  0   → 3.5
//	D  s1 c −0.5   s2 a      1.5          s3 true  1   s4 b  0   → 2
//	E  s1 a −0.5   s2 d      0 (floored)  s3 —     0   s4 a  2   → 1.5
//	F  started, nothing answered                                  → 0
//
// round(27 % × 6) = 2 per group: upper A, B; lower F, E.
//
//	s1 fractions 1 1 1 0 0 0 (−0.5 clamps to 0)  facility 3/6 = 0.5     upper 1     lower 0  D 1
//	s2 fractions 1 .5 .5 .5 0 0                  facility 2.5/6 = .4167 upper .75   lower 0  D 0.75
//	s3 fractions 1 1 0 1 0 0                     facility 3/6 = 0.5     upper 1     lower 0  D 1
//	s4 fractions 1 1 0 0 1 0                     facility 3/6 = 0.5     upper 1     lower .5 D 0.5
func sixAttempts() []*Attempt {
	return []*Attempt{
		attemptWith("F", nil),
		attemptWith("A", nil, timedAnswer{"s1", []string{"b"}, 1}, timedAnswer{"s2", []string{"a", "c"}, 1}, timedAnswer{"s3", []string{"true"}, 1}, timedAnswer{"s4", []string{"a"}, 1}),
		attemptWith("B", nil, timedAnswer{"s1", []string{"b"}, 1}, timedAnswer{"s2", []string{"a"}, 1}, timedAnswer{"s3", []string{"true"}, 1}, timedAnswer{"s4", []string{"a"}, 1}),
		attemptWith("C", nil, timedAnswer{"s1", []string{"b"}, 1}, timedAnswer{"s2", []string{"a", "c", "d"}, 1}, timedAnswer{"s3", []string{"false"}, 1}),
		attemptWith("D", nil, timedAnswer{"s1", []string{"c"}, 1}, timedAnswer{"s2", []string{"a"}, 1}, timedAnswer{"s3", []string{"true"}, 1}, timedAnswer{"s4", []string{"b"}, 1}),
		attemptWith("E", nil, timedAnswer{"s1", []string{"a"}, 1}, timedAnswer{"s2", []string{"d"}, 1}, timedAnswer{"s4", []string{"a"}, 1}),
	}
}

func TestComputeExamStats(t *testing.T) {
	closedAt := t0.Add(30 * time.Minute)
	tests := []struct {
		name     string
		attempts []*Attempt
		want     ExamStats
	}{
		{name: "six attempts, computed by hand", attempts: sixAttempts(), want: ExamStats{Attempts: 6,
			Questions: []QuestionStats{
				{QuestionID: "s1", Answered: 5, ChoiceCounts: counts("a", 1, "b", 3, "c", 1), Facility: ptr(0.5), Discrimination: ptr(1.0)},
				{QuestionID: "s2", Answered: 5, ChoiceCounts: counts("a", 4, "b", 0, "c", 2, "d", 2), Facility: ptr(0.4167), Discrimination: ptr(0.75)},
				{QuestionID: "s3", Answered: 4, ChoiceCounts: counts("true", 3, "false", 1), Facility: ptr(0.5), Discrimination: ptr(1.0)},
				{QuestionID: "s4", Answered: 4, ChoiceCounts: counts("a", 3, "b", 1), Facility: ptr(0.5), Discrimination: ptr(0.5)},
			},
			ScoreDistribution: []ScoreCount{{0, 1}, {1.5, 1}, {2, 1}, {3.5, 1}, {6.5, 1}, {8, 1}}}},
		{name: "no attempts: no indices, every choice counted 0", want: ExamStats{
			Questions: []QuestionStats{
				{QuestionID: "s1", ChoiceCounts: counts("a", 0, "b", 0, "c", 0)},
				{QuestionID: "s2", ChoiceCounts: counts("a", 0, "b", 0, "c", 0, "d", 0)},
				{QuestionID: "s3", ChoiceCounts: counts("true", 0, "false", 0)},
				{QuestionID: "s4", ChoiceCounts: counts("a", 0, "b", 0)},
			},
			ScoreDistribution: []ScoreCount{}}},
		{name: "five attempts: groups of round(1.35) = 1, no discrimination index", attempts: sixAttempts()[1:], want: ExamStats{Attempts: 5,
			Questions: []QuestionStats{
				{QuestionID: "s1", Answered: 5, ChoiceCounts: counts("a", 1, "b", 3, "c", 1), Facility: ptr(0.6)},
				{QuestionID: "s2", Answered: 5, ChoiceCounts: counts("a", 4, "b", 0, "c", 2, "d", 2), Facility: ptr(0.5)},
				{QuestionID: "s3", Answered: 4, ChoiceCounts: counts("true", 3, "false", 1), Facility: ptr(0.6)},
				{QuestionID: "s4", Answered: 4, ChoiceCounts: counts("a", 3, "b", 1), Facility: ptr(0.6)},
			},
			ScoreDistribution: []ScoreCount{{1.5, 1}, {2, 1}, {3.5, 1}, {6.5, 1}, {8, 1}}}},
		{name: "a wrong answer with negative marking earns 0, not a negative fraction; equal scores share a count",
			attempts: []*Attempt{
				attemptWith("X", nil, timedAnswer{"s1", []string{"a"}, 1}, timedAnswer{"s3", []string{"true"}, 1}), // −0.5 + 1 = 0.5
				attemptWith("Y", nil, timedAnswer{"s1", []string{"c"}, 1}, timedAnswer{"s3", []string{"true"}, 1}), // 0.5
			},
			want: ExamStats{Attempts: 2,
				Questions: []QuestionStats{
					{QuestionID: "s1", Answered: 2, ChoiceCounts: counts("a", 1, "b", 0, "c", 1), Facility: ptr(0.0)},
					{QuestionID: "s2", ChoiceCounts: counts("a", 0, "b", 0, "c", 0, "d", 0), Facility: ptr(0.0)},
					{QuestionID: "s3", Answered: 2, ChoiceCounts: counts("true", 2, "false", 0), Facility: ptr(1.0)},
					{QuestionID: "s4", ChoiceCounts: counts("a", 0, "b", 0), Facility: ptr(0.0)},
				},
				ScoreDistribution: []ScoreCount{{0.5, 2}}}},
		{name: "the cut-off rule: only the answer in force at the close counts",
			attempts: []*Attempt{
				// s4: a at 10 min (right), b at 40 min, after the close: a counts.
				attemptWith("Z", nil, timedAnswer{"s4", []string{"a"}, 10}, timedAnswer{"s4", []string{"b"}, 40}, timedAnswer{"s3", []string{"true"}, 45}),
			},
			want: ExamStats{Attempts: 1,
				Questions: []QuestionStats{
					{QuestionID: "s1", ChoiceCounts: counts("a", 0, "b", 0, "c", 0), Facility: ptr(0.0)},
					{QuestionID: "s2", ChoiceCounts: counts("a", 0, "b", 0, "c", 0, "d", 0), Facility: ptr(0.0)},
					{QuestionID: "s3", ChoiceCounts: counts("true", 0, "false", 0), Facility: ptr(0.0)},
					{QuestionID: "s4", Answered: 1, ChoiceCounts: counts("a", 1, "b", 0), Facility: ptr(1.0)},
				},
				ScoreDistribution: []ScoreCount{{2, 1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &Exam{ID: examID, Status: StatusClosed, ClosedAt: &closedAt, Questions: statsQuestions()}
			got := ComputeExamStats(e, tc.attempts)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("stats:\n got %s\nwant %s", dumpStats(got), dumpStats(tc.want))
			}
		})
	}
}

func TestComputeExamStatsUsesTheKeyInForce(t *testing.T) {
	closedAt := t0.Add(time.Hour)
	e := &Exam{ID: examID, Status: StatusClosed, ClosedAt: &closedAt, Questions: statsQuestions()}
	before := ComputeExamStats(e, sixAttempts())
	// The key of s4 becomes b: D (b) now earns it, A, B and E (a) do not.
	e.Apply(e.Version+1, &AnswerKeyCorrected{ExamID: examID, QuestionID: "s4", Correct: []string{"b"}, Points: 2})
	after := ComputeExamStats(e, sixAttempts())
	if f := *before.Questions[3].Facility; f != 0.5 {
		t.Fatalf("facility of s4 before the correction = %v, want 0.5", f)
	}
	// Scores now: A 6, B 4.5, C 3.5, D 4, E 0, F 0: lower F, E (0), upper A, B.
	if f, d := *after.Questions[3].Facility, *after.Questions[3].Discrimination; f != 0.1667 || d != 0 {
		t.Fatalf("s4 after the correction: facility %v, discrimination %v; want 0.1667 and 0", f, d)
	}
	want := []ScoreCount{{0, 2}, {3.5, 1}, {4, 1}, {4.5, 1}, {6, 1}}
	if !reflect.DeepEqual(after.ScoreDistribution, want) {
		t.Fatalf("distribution after the correction = %v, want %v", after.ScoreDistribution, want)
	}
}

func dumpStats(s ExamStats) string {
	out := fmt.Sprintf("attempts %d", s.Attempts)
	show := func(p *float64) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprint(*p)
	}
	for _, q := range s.Questions {
		out += fmt.Sprintf("\n  %s answered %d facility %s discrimination %s choices %v", q.QuestionID, q.Answered, show(q.Facility), show(q.Discrimination), q.ChoiceCounts)
	}
	return out + fmt.Sprintf("\n  distribution %v", s.ScoreDistribution)
}
