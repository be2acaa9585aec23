package component_test

import (
	"net/http"
	"reflect"
	"testing"
)

type questionStats struct {
	QuestionID          string         `json:"question_id"`
	Answered            int            `json:"answered"`
	ChoiceCounts        map[string]int `json:"choice_counts"`
	FacilityIndex       *float64       `json:"facility_index"`
	DiscriminationIndex *float64       `json:"discrimination_index"`
}

type examStats struct {
	Attempts          int             `json:"attempts"`
	Questions         []questionStats `json:"questions"`
	ScoreDistribution []struct {
		Score float64 `json:"score"`
		Count int     `json:"count"`
	} `json:"score_distribution"`
}

func f64(v float64) *float64 { return &v }

// TestExamStatsByHand computes item statistics of the standard exam (max 8:
// q1 single key b 2 pts −0.5 wrong; q2 multiple keys a,c 3 pts; q3
// true_false key true 1 pt; q4 single key a 2 pts) for six students:
//
//	A  q1 b  2     q2 a,c    3            q3 true  1   q4 a  2   → 8
//	B  q1 b  2     q2 a      3×1/2 = 1.5  q3 true  1   q4 a  2   → 6.5
//	C  q1 b  2     q2 a,c,d  3×1/2 = 1.5  q3 false 0   q4 —  0   → 3.5
//	D  q1 c −0.5   q2 a      1.5          q3 true  1   q4 b  0   → 2
//	E  q1 a −0.5   q2 d      0 (floored)  q3 —     0   q4 a  2   → 1.5
//	F  started, answered nothing                                  → 0
//
// Fractions of each question's points (a −0.5 counts 0) and groups of
// round(27 % × 6) = 2: upper A, B; lower E, F.
//
//	q1  1 1 1 0 0 0      facility 0.5     upper 1    lower 0    D 1
//	q2  1 .5 .5 .5 0 0   facility 0.4167  upper 0.75 lower 0    D 0.75
//	q3  1 1 0 1 0 0      facility 0.5     upper 1    lower 0    D 1
//	q4  1 1 0 0 1 0      facility 0.5     upper 1    lower 0.5  D 0.5
func TestExamStatsByHand(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	doc := w.doctor
	id := e.publishedExam(doc, w.levelA, nil).ID
	st := map[string]*user{"A": w.studentA, "B": w.studentA2}
	for _, n := range []string{"C", "D", "E", "F"} {
		st[n] = e.student(w.levelA)
	}
	sheet := map[string][][2]any{
		"A": {{"q1", []string{"b"}}, {"q2", []string{"a", "c"}}, {"q3", []string{"true"}}, {"q4", []string{"a"}}},
		"B": {{"q1", []string{"b"}}, {"q2", []string{"a"}}, {"q3", []string{"true"}}, {"q4", []string{"a"}}},
		"C": {{"q1", []string{"b"}}, {"q2", []string{"a", "c", "d"}}, {"q3", []string{"false"}}},
		"D": {{"q1", []string{"c"}}, {"q2", []string{"a"}}, {"q3", []string{"true"}}, {"q4", []string{"b"}}},
		"E": {{"q1", []string{"a"}}, {"q2", []string{"d"}}, {"q4", []string{"a"}}},
	}
	for who, answers := range sheet {
		var batch []map[string]any
		for _, a := range answers {
			batch = append(batch, map[string]any{"question_id": a[0], "choices": a[1]})
		}
		e.post("/exams/"+id+"/answers", st[who].Access, map[string]any{"answers": batch}).want(t, http.StatusOK)
	}
	e.post("/exams/"+id+"/attempt", st["F"].Access, nil).want(t, http.StatusCreated)

	e.get("/exams/"+id+"/stats", doc.Access).wantError(t, http.StatusConflict, "not_graded")
	e.post("/exams/"+id+"/close", doc.Access, nil).want(t, http.StatusAccepted)
	// After the close, an answer that slipped in would not count; the API
	// refuses it anyway.
	e.answer(id, "q4", st["C"], "a").wantError(t, http.StatusConflict, "exam_not_open")

	want := examStats{Attempts: 6, Questions: []questionStats{
		{QuestionID: "q1", Answered: 5, ChoiceCounts: map[string]int{"a": 1, "b": 3, "c": 1}, FacilityIndex: f64(0.5), DiscriminationIndex: f64(1)},
		{QuestionID: "q2", Answered: 5, ChoiceCounts: map[string]int{"a": 4, "b": 0, "c": 2, "d": 2}, FacilityIndex: f64(0.4167), DiscriminationIndex: f64(0.75)},
		{QuestionID: "q3", Answered: 4, ChoiceCounts: map[string]int{"true": 3, "false": 1}, FacilityIndex: f64(0.5), DiscriminationIndex: f64(1)},
		{QuestionID: "q4", Answered: 4, ChoiceCounts: map[string]int{"a": 3, "b": 1}, FacilityIndex: f64(0.5), DiscriminationIndex: f64(0.5)},
	}}
	for _, sc := range []float64{0, 1.5, 2, 3.5, 6.5, 8} {
		want.ScoreDistribution = append(want.ScoreDistribution, struct {
			Score float64 `json:"score"`
			Count int     `json:"count"`
		}{sc, 1})
	}
	// Closed (possibly not yet graded) and graded give the same answer.
	for _, phase := range []string{"closed", "graded"} {
		if phase == "graded" {
			e.waitGraded(id, doc, 6)
		}
		for _, u := range []*user{doc, e.admin} {
			var got examStats
			e.get("/exams/"+id+"/stats", u.Access).want(t, http.StatusOK).decode(t, &got)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, as %s:\n got %+v\nwant %+v", phase, u.Role, got, want)
			}
		}
	}

	// The scores agree with grading.
	res := e.results(id, doc)
	for who, score := range map[string]float64{"A": 8, "B": 6.5, "C": 3.5, "D": 2, "E": 1.5, "F": 0} {
		if got := res[st[who].ID].Score; got != score {
			t.Errorf("%s graded %v, want %v", who, got, score)
		}
	}

	// An import overrides a score, not the answers: the statistics stay.
	e.importFile(id, doc, "r.csv", []byte("email,score\n"+st["F"].Email+",7\n")).want(t, http.StatusOK)
	var got examStats
	e.get("/exams/"+id+"/stats", doc.Access).want(t, http.StatusOK).decode(t, &got)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after an override:\n got %+v\nwant %+v", got, want)
	}

	e.get("/exams/"+id+"/stats", w.doctor2.Access).wantError(t, http.StatusForbidden, "forbidden")
	e.get("/exams/"+id+"/stats", st["A"].Access).wantError(t, http.StatusForbidden, "forbidden")
	e.get("/exams/00000000-0000-0000-0000-000000000000/stats", e.admin.Access).wantError(t, http.StatusNotFound, "not_found")
}

// TestExamStatsWithoutAttempts: no attempts, no indices (null), every
// choice counted 0.
func TestExamStatsWithoutAttempts(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	id := e.publishedExam(w.doctor, w.levelA, nil).ID
	e.post("/exams/"+id+"/close", w.doctor.Access, nil).want(t, http.StatusAccepted)
	r := e.get("/exams/"+id+"/stats", w.doctor.Access).want(t, http.StatusOK)
	var got examStats
	r.decode(t, &got)
	if got.Attempts != 0 || len(got.Questions) != 4 || got.ScoreDistribution == nil || len(got.ScoreDistribution) != 0 {
		t.Fatalf("stats %s", r)
	}
	for _, q := range got.Questions {
		if q.FacilityIndex != nil || q.DiscriminationIndex != nil || q.Answered != 0 || len(q.ChoiceCounts) < 2 {
			t.Fatalf("question %+v", q)
		}
	}
	raw := r.obj(t)["questions"].([]any)[0].(map[string]any)
	if v, ok := raw["facility_index"]; !ok || v != nil {
		t.Fatalf("facility_index must be present and null: %v", raw)
	}
}
