package domain

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestScoreQuestion(t *testing.T) {
	q := func(kind QuestionKind, keys []string, correct []string, points, negative float64) Question {
		return Question{ID: "q", Kind: kind, Choices: keyed(keys...), Correct: correct, Points: points, NegativePoints: negative}
	}
	abcd, abcde := []string{"a", "b", "c", "d"}, []string{"a", "b", "c", "d", "e"}
	single := q(KindSingle, abcd, []string{"b"}, 2, 0)
	singleNeg := q(KindSingle, abcd, []string{"b"}, 2, 0.5)
	tf := q(KindTrueFalse, []string{"true", "false"}, []string{"true"}, 1, 0)
	tfNeg := q(KindTrueFalse, []string{"true", "false"}, []string{"true"}, 1, 1)
	multi := q(KindMultiple, abcde, []string{"a", "b", "c"}, 3, 0)        // 1 point per net right key
	multiOne := q(KindMultiple, abcde, []string{"a", "b", "c"}, 1, 0)     // 1/3 per net right key
	multiNeg := q(KindMultiple, abcde, []string{"a", "b", "c"}, 3, 1.5)   // floor −1.5
	multiBigNeg := q(KindMultiple, abcde, []string{"a", "b", "c"}, 3, 10) // floor −10, raw wins
	multiSingleKey := q(KindMultiple, []string{"a", "b", "c"}, []string{"a"}, 1, 0)

	tests := []struct {
		name   string
		q      Question
		chosen []string
		want   float64
	}{
		{"single right: full points", single, []string{"b"}, 2},
		{"single wrong, no negative marking: 0", single, []string{"a"}, 0},
		{"single unanswered (nil): 0", single, nil, 0},
		{"single unanswered (cleared): 0", single, []string{}, 0},
		{"single right with negative marking: full points", singleNeg, []string{"b"}, 2},
		{"single wrong with negative marking: −0.5", singleNeg, []string{"d"}, -0.5},
		{"single unanswered with negative marking: 0, not penalised", singleNeg, nil, 0},
		{"true_false right", tf, []string{"true"}, 1},
		{"true_false wrong, no negative marking: 0", tf, []string{"false"}, 0},
		{"true_false wrong with negative marking: −1", tfNeg, []string{"false"}, -1},
		{"true_false unanswered with negative marking: 0", tfNeg, []string{}, 0},
		{"multiple all three right: 3", multi, []string{"a", "b", "c"}, 3},
		{"multiple order does not matter", multi, []string{"c", "a", "b"}, 3},
		{"multiple two of three right: 3×2/3 = 2", multi, []string{"a", "c"}, 2},
		{"multiple one of three right: 3×1/3 = 1", multi, []string{"b"}, 1},
		{"multiple 2 right 1 wrong: 3×(2−1)/3 = 1", multi, []string{"a", "b", "d"}, 1},
		{"multiple 2 right 1 wrong on 1 point: 1×1/3", multiOne, []string{"a", "b", "e"}, 1.0 / 3},
		{"multiple 1 right 1 wrong: 0", multi, []string{"a", "d"}, 0},
		{"multiple 1 right 2 wrong, no negative marking: 0", multi, []string{"a", "d", "e"}, 0},
		{"multiple all wrong, no negative marking: 0", multi, []string{"d", "e"}, 0},
		{"multiple every key, no negative marking: 3×(3−2)/3 = 1", multi, abcde, 1},
		{"multiple unanswered: 0", multi, nil, 0},
		{"multiple all right with negative marking: 3", multiNeg, []string{"a", "b", "c"}, 3},
		{"multiple 1 right 2 wrong with negative marking: 3×(1−2)/3 = −1", multiNeg, []string{"a", "d", "e"}, -1},
		{"multiple one wrong with negative marking: −1", multiNeg, []string{"e"}, -1},
		{"multiple all wrong with negative marking: raw −2 bounded at −1.5", multiNeg, []string{"d", "e"}, -1.5},
		{"multiple all wrong, large negative marking: raw −2 (never beyond the raw share)", multiBigNeg, []string{"d", "e"}, -2},
		{"multiple every key with negative marking: 1", multiNeg, abcde, 1},
		{"multiple unanswered with negative marking: 0", multiNeg, []string{}, 0},
		{"multiple with one correct key, right and wrong chosen: 0", multiSingleKey, []string{"a", "b"}, 0},
		{"multiple with one correct key, right only: full", multiSingleKey, []string{"a"}, 1},
		{"multiple repeated key counts once", multi, []string{"a", "a", "a"}, 1},
		{"multiple without any correct key (corrupt key): 0, no division by zero", q(KindMultiple, abcd, nil, 2, 1), []string{"a"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ScoreQuestion(tc.q, tc.chosen)
			if math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("ScoreQuestion = %v, want %v", got, tc.want)
			}
			if math.Signbit(got) && got == 0 {
				t.Fatalf("negative zero")
			}
		})
	}
}

// gradingQuestions: max score 2 + 3 + 1 + 2 = 8.
//
//	g1 single      a..d  correct b      2 points, −0.5 when wrong
//	g2 multiple    a..e  correct a,b,c  3 points, no negative marking
//	g3 true_false        correct true   1 point,  −1 when wrong
//	g4 multiple    a..d  correct a,b    2 points, −1 at most
func gradingQuestions() []Question {
	return []Question{
		{ID: "g1", Kind: KindSingle, Choices: keyed("a", "b", "c", "d"), Correct: []string{"b"}, Points: 2, NegativePoints: 0.5},
		{ID: "g2", Kind: KindMultiple, Choices: keyed("a", "b", "c", "d", "e"), Correct: []string{"a", "b", "c"}, Points: 3},
		{ID: "g3", Kind: KindTrueFalse, Choices: keyed("true", "false"), Correct: []string{"true"}, Points: 1, NegativePoints: 1},
		{ID: "g4", Kind: KindMultiple, Choices: keyed("a", "b", "c", "d"), Correct: []string{"a", "b"}, Points: 2, NegativePoints: 1},
	}
}

type timedAnswer struct {
	q       string
	choices []string
	min     int // minutes after t0
}

func attemptWith(studentID string, deadline *time.Time, answers ...timedAnswer) *Attempt {
	a := &Attempt{}
	a.Apply(1, &AttemptStarted{AttemptID: "attempt-" + studentID, ExamID: examID, StudentID: studentID, StartedAt: t0, Deadline: deadline})
	for i, x := range answers {
		a.Apply(int64(i+2), &AnswerSaved{AttemptID: "attempt-" + studentID, ExamID: examID, StudentID: studentID,
			QuestionID: x.q, Choices: x.choices, SavedAt: t0.Add(time.Duration(x.min) * time.Minute)})
	}
	return a
}

func TestGradeAttempt(t *testing.T) {
	tests := []struct {
		name      string
		questions []Question
		deadline  *time.Time
		closedAt  *time.Time
		answers   []timedAnswer
		score     float64
		maxScore  float64
		answered  int
		perQ      []float64
	}{
		{name: "everything right: the max score", questions: gradingQuestions(),
			answers: []timedAnswer{{"g1", []string{"b"}, 1}, {"g2", []string{"a", "b", "c"}, 1}, {"g3", []string{"true"}, 1}, {"g4", []string{"b", "a"}, 1}},
			score:   8, maxScore: 8, answered: 4, perQ: []float64{2, 3, 1, 2}},
		{name: "nothing answered: 0, nothing penalised", questions: gradingQuestions(),
			score: 0, maxScore: 8, answered: 0, perQ: []float64{0, 0, 0, 0}},
		{name: "mixed: −0.5 + 1 + 1 + 0 = 1.5", questions: gradingQuestions(),
			answers: []timedAnswer{{"g1", []string{"c"}, 1}, {"g2", []string{"a", "b", "d"}, 1}, {"g3", []string{"true"}, 1}, {"g4", []string{"a", "c"}, 1}},
			score:   1.5, maxScore: 8, answered: 4, perQ: []float64{-0.5, 1, 1, 0}},
		{name: "negatives dominate: −0.5 + 0 − 1 − 1 = −2.5 floored at 0", questions: gradingQuestions(),
			answers: []timedAnswer{{"g1", []string{"a"}, 1}, {"g2", []string{"d", "e"}, 1}, {"g3", []string{"false"}, 1}, {"g4", []string{"c", "d"}, 1}},
			score:   0, maxScore: 8, answered: 4, perQ: []float64{-0.5, 0, -1, -1}},
		{name: "one negative among positives is subtracted: 2 + 0 − 1 + 2 = 3", questions: gradingQuestions(),
			answers: []timedAnswer{{"g1", []string{"b"}, 1}, {"g3", []string{"false"}, 1}, {"g4", []string{"a", "b"}, 1}},
			score:   3, maxScore: 8, answered: 3, perQ: []float64{2, 0, -1, 2}},
		{name: "every key chosen on the multiples: 3×1/3 + 2×0/2 = 1", questions: gradingQuestions(),
			answers: []timedAnswer{{"g2", []string{"a", "b", "c", "d", "e"}, 1}, {"g4", []string{"a", "b", "c", "d"}, 1}},
			score:   1, maxScore: 8, answered: 2, perQ: []float64{0, 1, 0, 0}},
		{name: "a cleared answer is unanswered", questions: gradingQuestions(),
			answers: []timedAnswer{{"g1", []string{"b"}, 1}, {"g1", []string{}, 2}},
			score:   0, maxScore: 8, answered: 0, perQ: []float64{0, 0, 0, 0}},
		{name: "change of mind before the deadline counts", questions: gradingQuestions(), deadline: ptr(t0.Add(time.Hour)),
			answers: []timedAnswer{{"g1", []string{"a"}, 1}, {"g1", []string{"b"}, 59}},
			score:   2, maxScore: 8, answered: 1, perQ: []float64{2, 0, 0, 0}},
		{name: "an answer that slipped in after the deadline is ignored", questions: gradingQuestions(), deadline: ptr(t0.Add(time.Hour)),
			answers: []timedAnswer{{"g1", []string{"a"}, 1}, {"g1", []string{"b"}, 60}, {"g2", []string{"a", "b", "c"}, 61}},
			score:   0, maxScore: 8, answered: 1, perQ: []float64{-0.5, 0, 0, 0}},
		{name: "an answer after the exam closed is ignored", questions: gradingQuestions(), deadline: ptr(t0.Add(time.Hour)), closedAt: ptr(t0.Add(30 * time.Minute)),
			answers: []timedAnswer{{"g1", []string{"b"}, 10}, {"g3", []string{"true"}, 45}},
			score:   2, maxScore: 8, answered: 1, perQ: []float64{2, 0, 0, 0}},
		{name: "float noise is rounded away: 0.1 + 0.2 = 0.3",
			questions: []Question{
				{ID: "f1", Kind: KindSingle, Choices: keyed("a", "b"), Correct: []string{"a"}, Points: 0.1},
				{ID: "f2", Kind: KindSingle, Choices: keyed("a", "b"), Correct: []string{"a"}, Points: 0.2},
			},
			answers: []timedAnswer{{"f1", []string{"a"}, 1}, {"f2", []string{"a"}, 1}},
			score:   0.3, maxScore: 0.3, answered: 2, perQ: []float64{0.1, 0.2}},
		{name: "fractions are kept to 4 decimals: 2.5×1/3 + 1×2/3 = 0.8333 + 0.6667 = 1.5",
			questions: []Question{
				{ID: "p1", Kind: KindMultiple, Choices: keyed("a", "b", "c", "d"), Correct: []string{"a", "b", "c"}, Points: 2.5},
				{ID: "p2", Kind: KindMultiple, Choices: keyed("a", "b", "c", "d"), Correct: []string{"a", "b", "c"}, Points: 1},
			},
			answers: []timedAnswer{{"p1", []string{"c"}, 1}, {"p2", []string{"a", "b"}, 1}},
			score:   1.5, maxScore: 3.5, answered: 2, perQ: []float64{0.8333, 0.6667}},
		// The total sums exact points and is rounded once; the per-question
		// breakdown is rounded for display.
		{name: "exact thirds sum to a whole: 3 × 1/3 = 1 (shown as 0.3333 each)",
			questions: []Question{
				{ID: "r1", Kind: KindMultiple, Choices: keyed("a", "b", "c", "d"), Correct: []string{"a", "b", "c"}, Points: 1},
				{ID: "r2", Kind: KindMultiple, Choices: keyed("a", "b", "c", "d"), Correct: []string{"a", "b", "c"}, Points: 1},
				{ID: "r3", Kind: KindMultiple, Choices: keyed("a", "b", "c", "d"), Correct: []string{"a", "b", "c"}, Points: 1},
			},
			answers: []timedAnswer{{"r1", []string{"a", "b", "d"}, 1}, {"r2", []string{"a", "c", "d"}, 1}, {"r3", []string{"b", "c", "d"}, 1}},
			score:   1, maxScore: 3, answered: 3, perQ: []float64{0.3333, 0.3333, 0.3333}},
		{name: "a negative share is rounded too: −1/3 point",
			questions: []Question{
				{ID: "n1", Kind: KindMultiple, Choices: keyed("a", "b", "c", "d", "e"), Correct: []string{"a", "b", "c"}, Points: 1, NegativePoints: 1},
				{ID: "n2", Kind: KindSingle, Choices: keyed("a", "b"), Correct: []string{"a"}, Points: 1},
			},
			answers: []timedAnswer{{"n1", []string{"d"}, 1}, {"n2", []string{"a"}, 1}},
			score:   0.6667, maxScore: 2, answered: 2, perQ: []float64{-0.3333, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &Exam{ID: examID, Questions: tc.questions, ClosedAt: tc.closedAt}
			a := attemptWith("student-1", tc.deadline, tc.answers...)
			g := GradeAttempt(e, a)
			if g.Score != tc.score || g.MaxScore != tc.maxScore || g.Answered != tc.answered {
				t.Fatalf("score %v / %v answered %d; want %v / %v answered %d", g.Score, g.MaxScore, g.Answered, tc.score, tc.maxScore, tc.answered)
			}
			if g.AttemptID != "attempt-student-1" || g.StudentID != "student-1" {
				t.Fatalf("ids = %q %q", g.AttemptID, g.StudentID)
			}
			if len(g.Questions) != len(tc.questions) {
				t.Fatalf("%d question scores, want one per question (%d)", len(g.Questions), len(tc.questions))
			}
			for i, qs := range g.Questions {
				if qs.QuestionID != tc.questions[i].ID || qs.PointsAwarded != tc.perQ[i] {
					t.Fatalf("question %d: %s awarded %v, want %s awarded %v", i, qs.QuestionID, qs.PointsAwarded, tc.questions[i].ID, tc.perQ[i])
				}
				if qs.Choices == nil {
					t.Fatalf("question %s: choices nil, want [] so it encodes as an empty list", qs.QuestionID)
				}
			}
		})
	}
}

// gradingFixture runs a real exam through the deciders: the sample exam
// (q1 single b 1pt; q2 multiple a,b,c 3pt; q3 true_false false 2pt −0.5),
// five students, a manual close. It returns the exam and the attempts'
// event streams, so tests can fold them as often as they like.
func gradingFixture(t *testing.T) (*Exam, map[string][]Event) {
	t.Helper()
	e := publishedExam(t)
	streams := map[string][]Event{}
	sheet := []struct {
		who     string
		answers []AnswerInput
	}{
		{"student-1", []AnswerInput{ans("q1", "a"), ans("q1", "b"), ans("q2", "a", "b", "c"), ans("q3", "false")}}, // 1 + 3 + 2 = 6
		{"student-2", []AnswerInput{ans("q1", "a"), ans("q2", "a", "b"), ans("q3", "true")}},                       // 0 + 2 − 0.5 = 1.5
		{"student-3", []AnswerInput{ans("q1", "b"), ans("q3", "true")}},                                            // 1 − 0.5 = 0.5
		{"student-4", nil}, // started, nothing answered: 0
		{"student-5", []AnswerInput{ans("q2", "a"), ans("q3", "false")}}, // 1 + 2 = 3
	}
	for i, s := range sheet {
		who := Actor{ID: s.who, Role: RoleStudent, LevelID: levelID}
		a := &Attempt{}
		now := t0.Add(time.Duration(i+1) * time.Minute)
		evs, err := a.Start(e, who, "attempt-"+s.who, now)
		if err != nil {
			t.Fatal(err)
		}
		foldAttempt(t, a, evs...)
		streams[s.who] = append(streams[s.who], evs...)
		for j, in := range s.answers {
			evs, err := a.SaveAnswers(e, who, a.ID, []AnswerInput{in}, now.Add(time.Duration(j+1)*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			foldAttempt(t, a, evs...)
			streams[s.who] = append(streams[s.who], evs...)
		}
	}
	closeExam(t, e, t0.Add(time.Hour))
	return e, streams
}

// foldAttempts folds each stream afresh, in an order given by order.
func foldAttempts(t *testing.T, streams map[string][]Event, order []string) []*Attempt {
	t.Helper()
	out := make([]*Attempt, 0, len(order))
	for _, who := range order {
		a := &Attempt{}
		foldAttempt(t, a, streams[who]...)
		out = append(out, a)
	}
	return out
}

func scoresOf(grades []AttemptGrade) map[string]float64 {
	m := map[string]float64{}
	for _, g := range grades {
		m[g.StudentID] = g.Score
	}
	return m
}

func TestGradeExamIsOrderedAndDeterministic(t *testing.T) {
	e, streams := gradingFixture(t)
	forward := foldAttempts(t, streams, []string{"student-1", "student-2", "student-3", "student-4", "student-5"})
	backward := foldAttempts(t, streams, []string{"student-5", "student-3", "student-4", "student-1", "student-2"})

	g1 := GradeExam(e, forward)
	g2 := GradeExam(e, backward)
	g3 := GradeExam(e, forward)
	if !reflect.DeepEqual(g1, g2) || !reflect.DeepEqual(g1, g3) {
		t.Fatalf("grading the same folds twice differs:\n%+v\n%+v", g1, g2)
	}
	var ids []string
	for _, g := range g1 {
		ids = append(ids, g.StudentID)
	}
	if !slices.IsSorted(ids) || len(ids) != 5 {
		t.Fatalf("grades ordered %v, want by student id", ids)
	}
	want := map[string]float64{"student-1": 6, "student-2": 1.5, "student-3": 0.5, "student-4": 0, "student-5": 3}
	if got := scoresOf(g1); !reflect.DeepEqual(got, want) {
		t.Fatalf("scores = %v, want %v", got, want)
	}
	for _, g := range g1 {
		if g.MaxScore != 6 {
			t.Fatalf("max score = %v, want 6", g.MaxScore)
		}
	}
	if g := GradeExam(e, nil); g == nil || len(g) != 0 {
		t.Fatalf("no attempts: %v", g)
	}

	// Plans from the same input are identical too.
	now := t0.Add(2 * time.Hour)
	if p1, p2 := PlanGrading(e, g1, nil, "close", now), PlanGrading(e, g2, nil, "close", now); !reflect.DeepEqual(p1, p2) {
		t.Fatal("planning the same grades twice differs")
	}
}

func TestPlanGradingRounds(t *testing.T) {
	e, streams := gradingFixture(t)
	students := []string{"student-1", "student-2", "student-3", "student-4", "student-5"}
	grade := func() []AttemptGrade { return GradeExam(e, foldAttempts(t, streams, students)) }
	// recorded folds the AttemptScored events a round appended over the
	// earlier record, as a grader reading the grades stream would.
	record := func(recorded map[string]float64, plan GradingPlan) map[string]float64 {
		out := map[string]float64{}
		for k, v := range recorded {
			out[k] = v
		}
		for _, ev := range plan.Scores {
			s := wire(t, ev).(*AttemptScored)
			out[s.StudentID] = s.Score
		}
		return out
	}

	if !e.NeedsGrading() {
		t.Fatal("closed exam does not need grading")
	}

	// Round 1: every attempt is recorded.
	at1 := t0.Add(2 * time.Hour).In(time.FixedZone("X", 3600))
	plan1 := PlanGrading(e, grade(), nil, "close", at1)
	if len(plan1.Scores) != 5 || len(plan1.Changed) != 5 || plan1.Unchanged != 0 {
		t.Fatalf("round 1: %d scores, %d changed, %d unchanged; want 5, 5, 0", len(plan1.Scores), len(plan1.Changed), plan1.Unchanged)
	}
	for i, c := range plan1.Changed {
		if c.OldScore != nil || c.StudentID != students[i] {
			t.Fatalf("round 1 change %d = %+v, want %s with no old score", i, c, students[i])
		}
	}
	s1 := plan1.Scores[0]
	if s1.Type != TypeAttemptScored || !slices.Equal(s1.Tags, []string{ExamTag(examID), StudentTag("student-1")}) {
		t.Fatalf("score event = %s %v", s1.Type, s1.Tags)
	}
	d := wire(t, s1).(*AttemptScored)
	if d.Round != 1 || d.Score != 6 || d.MaxScore != 6 || d.Answered != 3 || d.ExamID != examID || d.AttemptID != "attempt-student-1" ||
		!d.GradedAt.Equal(at1) || d.GradedAt.Location() != time.UTC || len(d.Questions) != 3 {
		t.Fatalf("round 1 score for student-1 = %+v", d)
	}
	plan1.RecordedOnto(0) // the grades stream is empty before the first round
	g := wire(t, plan1.Graded).(*ExamGraded)
	if plan1.Graded.Type != TypeExamGraded || g.Round != 1 || g.Attempts != 5 || g.Changed != 5 || g.Trigger != "close" || g.ExamID != examID || g.GradesVersion != 5 {
		t.Fatalf("round 1 marker = %+v", g)
	}
	foldExam(t, e, plan1.Graded)
	if e.Status != StatusGraded || e.GradeRound != 1 || e.GradedAt == nil || e.NeedsGrading() || e.GradesVersion != 5 {
		t.Fatalf("after round 1: status %s round %d grades version %d", e.Status, e.GradeRound, e.GradesVersion)
	}
	recorded := record(nil, plan1)
	if want := map[string]float64{"student-1": 6, "student-2": 1.5, "student-3": 0.5, "student-4": 0, "student-5": 3}; !reflect.DeepEqual(recorded, want) {
		t.Fatalf("recorded after round 1 = %v, want %v", recorded, want)
	}

	// Round 2, same key: nothing recorded, everybody unchanged.
	plan2 := PlanGrading(e, grade(), recorded, "regrade", t0.Add(3*time.Hour))
	if len(plan2.Scores) != 0 || len(plan2.Changed) != 0 || plan2.Unchanged != 5 {
		t.Fatalf("round 2: %d scores, %d changed, %d unchanged; want 0, 0, 5", len(plan2.Scores), len(plan2.Changed), plan2.Unchanged)
	}
	plan2.RecordedOnto(5) // nothing changed: the round is complete at the same version
	if g := plan2.Graded.Data.(*ExamGraded); g.Round != 2 || g.Changed != 0 || g.Attempts != 5 || g.Trigger != "regrade" || g.GradesVersion != 5 {
		t.Fatalf("round 2 marker = %+v", g)
	}
	foldExam(t, e, plan2.Graded)

	// The key of q1 was wrong: a is right, not b.
	evs, err := e.CorrectAnswerKey(owner, "q1", []string{"a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	foldExam(t, e, evs...)
	if !e.NeedsGrading() {
		t.Fatal("a corrected key does not ask for a regrade")
	}

	// Round 3: only the students whose score moved are recorded.
	plan3 := PlanGrading(e, grade(), recorded, "answer_key", t0.Add(4*time.Hour))
	type change struct {
		who      string
		old, new float64
	}
	var got []change
	for _, c := range plan3.Changed {
		if c.OldScore == nil {
			t.Fatalf("change for %s has no old score", c.StudentID)
		}
		got = append(got, change{c.StudentID, *c.OldScore, c.NewScore})
	}
	want := []change{
		{"student-1", 6, 5},     // q1 b is now wrong: 0 + 3 + 2
		{"student-2", 1.5, 2.5}, // q1 a is now right: 1 + 2 − 0.5
		{"student-3", 0.5, 0},   // 0 − 0.5 floored at 0
	}
	if !reflect.DeepEqual(got, want) || plan3.Unchanged != 2 || len(plan3.Scores) != 3 {
		t.Fatalf("round 3 changes = %+v (unchanged %d, %d scores), want %+v and 2 unchanged", got, plan3.Unchanged, len(plan3.Scores), want)
	}
	for i, ev := range plan3.Scores {
		s := wire(t, ev).(*AttemptScored)
		if s.Round != 3 || s.StudentID != want[i].who || s.Score != want[i].new {
			t.Fatalf("round 3 score event %d = %+v", i, s)
		}
	}
	if g := plan3.Graded.Data.(*ExamGraded); g.Round != 3 || g.Changed != 3 || g.Attempts != 5 || g.Trigger != "answer_key" {
		t.Fatalf("round 3 marker = %+v", g)
	}
	foldExam(t, e, plan3.Graded)
	if e.GradeRound != 3 || e.NeedsGrading() {
		t.Fatalf("after round 3: round %d, needs grading %v", e.GradeRound, e.NeedsGrading())
	}
	jsonChange, _ := json.Marshal(plan3.Changed[0])
	if string(jsonChange) != `{"student_id":"student-1","old_score":6,"new_score":5}` {
		t.Fatalf("change encodes as %s", jsonChange)
	}

	// A student missing from the record (say an attempt that was folded
	// late) is recorded with no old score; the rest stay unchanged.
	partial := record(recorded, plan3)
	delete(partial, "student-4")
	plan4 := PlanGrading(e, grade(), partial, "regrade", t0.Add(5*time.Hour))
	if len(plan4.Changed) != 1 || plan4.Changed[0].StudentID != "student-4" || plan4.Changed[0].OldScore != nil || plan4.Unchanged != 4 {
		t.Fatalf("round 4 = %+v, unchanged %d", plan4.Changed, plan4.Unchanged)
	}
	if g := plan4.Graded.Data.(*ExamGraded); g.Round != 4 {
		t.Fatalf("round 4 marker round = %d", g.Round)
	}
}
