package domain

import (
	"math"
	"sort"
)

// DiscriminationGroupShare is the share of attempts, by total score, in
// each of the upper and lower groups of the discrimination index (Kelley's
// 27 %, the classical choice for item analysis).
const DiscriminationGroupShare = 0.27

// QuestionStats are one question's item statistics.
type QuestionStats struct {
	QuestionID string
	// Answered counts attempts with a final answer to the question.
	Answered int
	// ChoiceCounts counts, per choice key, the attempts whose final answer
	// includes it (every key of the question is present, 0 when unchosen).
	ChoiceCounts map[string]int
	// Facility is the mean fraction of the question's points earned, over
	// all attempts (unanswered counts 0), in 0..1; nil without attempts.
	Facility *float64
	// Discrimination is the facility in the upper group minus that in the
	// lower group, in −1..1; nil when a group would hold fewer than 2
	// attempts.
	Discrimination *float64
}

// ScoreCount is how many attempts got one total score.
type ScoreCount struct {
	Score float64
	Count int
}

// ExamStats are an exam's item statistics.
type ExamStats struct {
	Attempts          int
	Questions         []QuestionStats
	ScoreDistribution []ScoreCount
}

// ComputeExamStats computes item statistics from the attempts, scored the
// way grading scores them (GradeAttempt: final answers under the cut-off
// rule, the answer key and points in force). Manual overrides are not
// answers and play no part.
//
//   - The fraction of a question earned is its points awarded over its
//     points, clamped to 0..1: a negatively marked wrong answer counts as 0
//     here, so the facility stays a proportion.
//   - The discrimination index ranks attempts by total score and takes the
//     top and bottom round(27 % × attempts) of them; ties at a group's edge
//     are broken by student id, so the result is deterministic.
//   - The score distribution lists each total score that occurs, ascending.
//
// Indices are rounded to 4 decimals.
func ComputeExamStats(e *Exam, attempts []*Attempt) ExamStats {
	grades := GradeExam(e, attempts) // ordered by student id
	n := len(grades)
	ranked := append([]AttemptGrade(nil), grades...)
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].Score < ranked[j].Score })
	g := int(math.Round(DiscriminationGroupShare * float64(n)))
	lower, upper := ranked[:g], ranked[n-g:]

	out := ExamStats{Attempts: n, Questions: make([]QuestionStats, 0, len(e.Questions)), ScoreDistribution: []ScoreCount{}}
	for i, q := range e.Questions {
		st := QuestionStats{QuestionID: q.ID, ChoiceCounts: make(map[string]int, len(q.Choices))}
		for _, c := range q.Choices {
			st.ChoiceCounts[c.Key] = 0
		}
		for _, gr := range grades {
			chosen := gr.Questions[i].Choices
			if len(chosen) > 0 {
				st.Answered++
			}
			for _, k := range chosen {
				st.ChoiceCounts[k]++
			}
		}
		if n > 0 {
			f := roundScore(facility(q, i, grades))
			st.Facility = &f
		}
		if g >= 2 {
			d := roundScore(facility(q, i, upper) - facility(q, i, lower))
			st.Discrimination = &d
		}
		out.Questions = append(out.Questions, st)
	}
	for _, gr := range ranked {
		if last := len(out.ScoreDistribution) - 1; last >= 0 && out.ScoreDistribution[last].Score == gr.Score {
			out.ScoreDistribution[last].Count++
		} else {
			out.ScoreDistribution = append(out.ScoreDistribution, ScoreCount{Score: gr.Score, Count: 1})
		}
	}
	return out
}

// facility is the mean fraction of question q (the i-th) earned by grades.
func facility(q Question, i int, grades []AttemptGrade) float64 {
	if len(grades) == 0 || q.Points <= 0 {
		return 0
	}
	var sum float64
	for _, gr := range grades {
		sum += min(1, max(0, gr.Questions[i].PointsAwarded/q.Points))
	}
	return sum / float64(len(grades))
}
