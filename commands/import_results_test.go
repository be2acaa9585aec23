package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
)

// TestConcurrentImportsOfOneExamBothLand: two replicas importing scores
// for the same graded exam race for its grades stream; the loser reads
// the winner's override and decides again, so both land and the later one
// names the earlier score as its previous score.
func TestConcurrentImportsOfOneExamBothLand(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	h := newHandlers(t, store)
	lvl, err := h.CreateLevel.Handle(ctx, commands.Meta{Actor: admin}, "L")
	if err != nil {
		t.Fatal(err)
	}
	u, err := h.RegisterUser.Handle(ctx, commands.Meta{Actor: admin}, domain.RegisterInput{Email: "s@school.test", Password: "password-1",
		FullName: "S", Role: domain.RoleStudent, LevelID: lvl.Level.ID, IDNumber: "1"})
	if err != nil {
		t.Fatal(err)
	}
	doctor := domain.Actor{ID: "doctor-1", Role: domain.RoleDoctor}
	ex, err := h.DraftExam.Handle(ctx, commands.Meta{Actor: doctor}, domain.ExamDraftInput{Title: "T", LevelID: lvl.Level.ID,
		Questions: []domain.QuestionInput{{ID: "q1", Text: "?", Kind: domain.KindTrueFalse, Correct: []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := ex.Exam.ID
	if _, err := h.PublishExam.Handle(ctx, commands.Meta{Actor: doctor}, id); err != nil {
		t.Fatal(err)
	}
	if _, err := h.SaveAnswers.Handle(ctx, commands.Meta{Actor: u.User.Actor()}, id, []domain.AnswerInput{{QuestionID: "q1", Choices: []string{"true"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.CloseExam.Handle(ctx, commands.Meta{Actor: doctor}, id); err != nil {
		t.Fatal(err)
	}
	if _, err := h.GradeExam.Handle(ctx, commands.Meta{Actor: domain.SystemActor("grader")}, id, "close", false); err != nil {
		t.Fatal(err)
	}

	replicas := []*commands.Handlers{h, newHandlers(t, store)}
	scores := []string{"0.25", "0.75"}
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.ImportResults.Handle(ctx, commands.Meta{Actor: doctor}, id, []domain.ScoreImportRow{{Row: 2, Email: "S@school.test", Score: scores[i]}})
			if err != nil || res.Imported != 1 || res.Recorded != 1 {
				t.Errorf("import %s: %+v, %v", scores[i], res, err)
			}
		}()
	}
	wg.Wait()
	recs, err := store.Load(ctx, domain.GradesStream(id), 1)
	if err != nil {
		t.Fatal(err)
	}
	var overrides []domain.ScoreOverridden
	for _, rec := range recs {
		if rec.Type == domain.TypeScoreOverridden {
			var o domain.ScoreOverridden
			if err := json.Unmarshal(rec.Data, &o); err != nil {
				t.Fatal(err)
			}
			overrides = append(overrides, o)
		}
	}
	if len(overrides) != 2 || overrides[0].PreviousScore == nil || *overrides[0].PreviousScore != 1 ||
		overrides[1].PreviousScore == nil || *overrides[1].PreviousScore != overrides[0].Score {
		t.Fatalf("overrides %s", dumpOverrides(overrides))
	}

	// A bad row anywhere records nothing.
	head, _ := store.Head(ctx)
	_, err = h.ImportResults.Handle(ctx, commands.Meta{Actor: doctor}, id, []domain.ScoreImportRow{
		{Row: 2, Email: "s@school.test", Score: "0"}, {Row: 3, Email: "nobody@school.test", Score: "1"}})
	var rowsErr *domain.RowsError
	if !errors.As(err, &rowsErr) || len(rowsErr.Rows) != 1 || rowsErr.Rows[0].Row != 3 {
		t.Fatalf("error %v, want row 3 rejected", err)
	}
	if after, _ := store.Head(ctx); after != head {
		t.Fatalf("a rejected import appended: head %d → %d", head, after)
	}
}

func dumpOverrides(overrides []domain.ScoreOverridden) string {
	out := ""
	for _, o := range overrides {
		prev := "null"
		if o.PreviousScore != nil {
			prev = fmt.Sprint(*o.PreviousScore)
		}
		out += fmt.Sprintf("[%v from %s] ", o.Score, prev)
	}
	return out
}
