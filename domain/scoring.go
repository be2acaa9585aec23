package domain

import (
	"math"
	"sort"
	"time"
)

// ScoreQuestion scores one answer under the rules of ARCHITECTURE.md:
//   - unanswered (no choices): 0;
//   - single and true_false: full points if the one choice is correct,
//     minus negative_points if it is wrong;
//   - multiple: partial credit points × (right chosen − wrong chosen) / number
//     of correct keys, never below 0 unless negative marking applies, and then
//     never below −negative_points.
func ScoreQuestion(q Question, chosen []string) float64 {
	if len(chosen) == 0 {
		return 0
	}
	correct := make(map[string]bool, len(q.Correct))
	for _, k := range q.Correct {
		correct[k] = true
	}
	if q.Kind != KindMultiple {
		if len(chosen) == 1 && correct[chosen[0]] {
			return q.Points
		}
		if q.NegativePoints == 0 {
			return 0 // not -0, which encoding/json writes as "-0"
		}
		return -q.NegativePoints
	}
	if len(correct) == 0 {
		return 0
	}
	var right, wrong int
	seen := make(map[string]bool, len(chosen))
	for _, c := range chosen {
		if seen[c] {
			continue
		}
		seen[c] = true
		if correct[c] {
			right++
		} else {
			wrong++
		}
	}
	raw := q.Points * float64(right-wrong) / float64(len(correct))
	if raw >= 0 {
		return raw
	}
	if q.NegativePoints > 0 {
		return math.Max(raw, -q.NegativePoints)
	}
	return 0
}

// AttemptGrade is the result of scoring one attempt.
type AttemptGrade struct {
	AttemptID string
	StudentID string
	Score     float64
	MaxScore  float64
	Answered  int
	Questions []QuestionScore
}

// GradeAttempt scores an attempt against the exam's current answer key,
// using only the answers in force under the cut-off rule (with the
// student's own deadline, accommodations included). It is a pure
// function of the two folds: grading twice gives the same result.
func GradeAttempt(e *Exam, t *Attempt) AttemptGrade {
	final := t.FinalAnswersIn(e)
	g := AttemptGrade{AttemptID: t.ID, StudentID: t.StudentID, MaxScore: e.MaxScore(), Questions: make([]QuestionScore, 0, len(e.Questions))}
	var total float64
	for _, q := range e.Questions {
		chosen := final[q.ID]
		if len(chosen) > 0 {
			g.Answered++
		}
		pts := ScoreQuestion(q, chosen)
		// The total sums exact points and is rounded once, so three answers
		// worth a third each make 1, not 0.9999.
		total += pts
		g.Questions = append(g.Questions, QuestionScore{QuestionID: q.ID, Choices: nonNil(chosen), PointsAwarded: roundScore(pts)})
	}
	g.Score = roundScore(math.Max(0, total))
	return g
}

// GradeExam grades every attempt, ordered by student id.
func GradeExam(e *Exam, attempts []*Attempt) []AttemptGrade {
	out := make([]AttemptGrade, 0, len(attempts))
	for _, t := range attempts {
		out = append(out, GradeAttempt(e, t))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StudentID < out[j].StudentID })
	return out
}

// GradingPlan is what a grading round appends: one AttemptScored per attempt
// whose score is new or changed, and the ExamGraded marker.
type GradingPlan struct {
	Scores    []Event
	Graded    Event
	Changed   []ScoreChange
	Unchanged int
}

// ScoreChange is one student's score moving in a regrade.
type ScoreChange struct {
	StudentID string   `json:"student_id"`
	OldScore  *float64 `json:"old_score"`
	NewScore  float64  `json:"new_score"`
}

// PlanGrading compares fresh grades with the scores currently recorded
// (studentID → score, as computed by earlier rounds) and decides what a
// grading round appends. The first round records every attempt; later
// rounds record only what changed.
func PlanGrading(e *Exam, grades []AttemptGrade, recorded map[string]float64, trigger string, now time.Time) GradingPlan {
	round := e.GradeRound + 1
	plan := GradingPlan{}
	for _, g := range grades {
		old, had := recorded[g.StudentID]
		if had && old == g.Score {
			plan.Unchanged++
			continue
		}
		change := ScoreChange{StudentID: g.StudentID, NewScore: g.Score}
		if had {
			o := old
			change.OldScore = &o
		}
		plan.Changed = append(plan.Changed, change)
		plan.Scores = append(plan.Scores, Event{Type: TypeAttemptScored, Tags: attemptTags(e.ID, g.StudentID), Data: &AttemptScored{
			ExamID: e.ID, AttemptID: g.AttemptID, StudentID: g.StudentID, Round: round,
			Score: g.Score, MaxScore: g.MaxScore, Answered: g.Answered, Questions: g.Questions, GradedAt: now.UTC(),
		}})
	}
	plan.Graded = Event{Type: TypeExamGraded, Tags: []string{ExamTag(e.ID)}, Data: &ExamGraded{
		ExamID: e.ID, Round: round, Attempts: len(grades), Changed: len(plan.Changed), Trigger: trigger, GradedAt: now.UTC(),
	}}
	return plan
}

// RecordedOnto says the plan's scores will be appended to the exam's grades
// stream at version gradesVersion (its version before the round), so the
// graded marker can name the version at which the round is complete.
func (p *GradingPlan) RecordedOnto(gradesVersion int64) {
	if g, ok := p.Graded.Data.(*ExamGraded); ok {
		g.GradesVersion = gradesVersion + int64(len(p.Scores))
	}
}

// roundScore keeps scores to 4 decimals so sums of fractions compare equal
// across replays and platforms.
func roundScore(v float64) float64 {
	r := math.Round(v*10000) / 10000
	if r == 0 {
		return 0 // no negative zero
	}
	return r
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
