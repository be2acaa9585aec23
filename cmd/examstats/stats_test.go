package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// feed applies events in order, each the next version of its stream.
type feed struct {
	t        *testing.T
	s        *Stats
	versions map[string]int64
}

func newFeed(t *testing.T, examFilter string) *feed {
	return &feed{t: t, s: NewStats(examFilter), versions: map[string]int64{}}
}

func (f *feed) add(stream, typ string, payload any) {
	f.t.Helper()
	f.versions[stream]++
	data, err := json.Marshal(payload)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.s.Apply(typ, stream, f.versions[stream], data); err != nil {
		f.t.Fatal(err)
	}
}

func (f *feed) answer(exam, attempt, q string, choices ...string) {
	f.t.Helper()
	if choices == nil {
		choices = []string{}
	}
	f.add("attempt-"+attempt, typeAnswerSaved, map[string]any{
		"attempt_id": attempt, "exam_id": exam, "student_id": "s-" + attempt, "question_id": q,
		"choices": choices, "saved_at": "2026-03-01T09:00:00Z",
	})
}

func q(id, text string, keys ...string) map[string]any {
	var cs []map[string]any
	for _, k := range keys {
		cs = append(cs, map[string]any{"key": k, "text": "choice " + k})
	}
	return map[string]any{"id": id, "text": text, "kind": "single", "choices": cs, "correct": []string{keys[0]}, "points": 1}
}

func (f *feed) draft(exam string, questions ...map[string]any) {
	f.t.Helper()
	f.add("exam-"+exam, typeExamDrafted, map[string]any{"exam_id": exam, "title": "Exam " + exam, "questions": questions})
}

// dist renders rows as "exam/question/choice=count/answered" for comparison.
func dist(rows []Row) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s/%s/%s=%d/%d ", r.ExamID, r.QuestionID, r.Choice, r.Count, r.Answered)
	}
	return strings.TrimSpace(b.String())
}

func TestStatsDistributions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		run  func(f *feed)
		want string
	}{
		{
			name: "a changed answer counts once, for the new choice",
			run: func(f *feed) {
				f.draft("e1", q("q1", "2+2?", "a", "b", "c"))
				f.answer("e1", "t1", "q1", "a")
				f.answer("e1", "t1", "q1", "b")
				f.answer("e1", "t2", "q1", "b")
			},
			want: "e1/q1/a=0/2 e1/q1/b=2/2 e1/q1/c=0/2",
		},
		{
			name: "a cleared answer no longer counts",
			run: func(f *feed) {
				f.draft("e1", q("q1", "", "a", "b"))
				f.answer("e1", "t1", "q1", "a")
				f.answer("e1", "t2", "q1", "a")
				f.answer("e1", "t2", "q1")
			},
			want: "e1/q1/a=1/1 e1/q1/b=0/1",
		},
		{
			name: "multiple choices count each chosen key",
			run: func(f *feed) {
				f.draft("e1", q("q1", "", "a", "b", "c"))
				f.answer("e1", "t1", "q1", "a", "c")
				f.answer("e1", "t2", "q1", "c")
				f.answer("e1", "t1", "q1", "c", "a") // same set, other order: no change
			},
			want: "e1/q1/a=1/2 e1/q1/b=0/2 e1/q1/c=2/2",
		},
		{
			name: "answers before the exam arrive are labelled later",
			run: func(f *feed) {
				f.answer("e1", "t1", "q2", "x")
				f.answer("e1", "t1", "q1", "b")
				f.draft("e1", q("q1", "", "a", "b"))
			},
			want: "e1/q1/a=0/1 e1/q1/b=1/1 e1/q2/x=1/1",
		},
		{
			name: "question events change the listing, not the answers",
			run: func(f *feed) {
				f.draft("e1", q("q1", "", "a", "b"), q("q2", "", "a"))
				f.add("exam-e1", typeQuestionUpdated, map[string]any{"exam_id": "e1", "question": q("q1", "", "a", "b", "c")})
				f.add("exam-e1", typeQuestionAdded, map[string]any{"exam_id": "e1", "question": q("q3", "", "y")})
				f.add("exam-e1", typeQuestionRemoved, map[string]any{"exam_id": "e1", "question_id": "q2"})
				f.answer("e1", "t1", "q1", "c")
			},
			want: "e1/q1/a=0/1 e1/q1/b=0/1 e1/q1/c=1/1 e1/q3/y=0/0",
		},
		{
			name: "a replaced draft replaces the questions",
			run: func(f *feed) {
				f.draft("e1", q("q1", "", "a", "b"))
				f.add("exam-e1", typeExamUpdated, map[string]any{"exam_id": "e1", "title": "New", "questions": []any{q("q9", "", "z")}})
			},
			want: "e1/q9/z=0/0",
		},
		{
			name: "exams listed by id; unknown types skipped",
			run: func(f *feed) {
				f.draft("e2", q("q1", "", "a"))
				f.draft("e1", q("q1", "", "a"))
				f.add("exam-e1", "exam.published.v1", map[string]any{"exam_id": "e1", "status": "open"})
				f.add("attempt-t1", "attempt.something_new.v7", map[string]any{"exam_id": "e1"})
				f.answer("e2", "t9", "q1", "a")
			},
			want: "e1/q1/a=0/0 e2/q1/a=1/1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFeed(t, "")
			tc.run(f)
			if got := dist(f.s.Rows()); got != tc.want {
				t.Fatalf("distribution\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestStatsIgnoresRedeliveredVersions(t *testing.T) {
	t.Parallel()
	s := NewStats("")
	apply := func(v int64, choice string) {
		t.Helper()
		body := fmt.Sprintf(`{"attempt_id":"t1","exam_id":"e1","question_id":"q1","choices":[%q]}`, choice)
		if err := s.Apply(typeAnswerSaved, "attempt-t1", v, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	apply(1, "a")
	apply(2, "b")
	apply(1, "a") // a partition re-read from its start
	apply(2, "b")
	if got, want := dist(s.Rows()), "e1/q1/b=1/1"; got != want {
		t.Fatalf("distribution %s, want %s", got, want)
	}
}

func TestStatsExamFilter(t *testing.T) {
	t.Parallel()
	f := newFeed(t, "e2")
	f.draft("e1", q("q1", "", "a"))
	f.draft("e2", q("q1", "", "a"))
	f.answer("e1", "t1", "q1", "a")
	f.answer("e2", "t2", "q1", "a")
	if got, want := dist(f.s.Rows()), "e2/q1/a=1/1"; got != want {
		t.Fatalf("distribution %s, want %s", got, want)
	}
}

func TestStatsRejectsBadPayloadOfKnownType(t *testing.T) {
	t.Parallel()
	s := NewStats("")
	if err := s.Apply(typeAnswerSaved, "attempt-t1", 1, []byte(`{"choices":"a"}`)); err == nil {
		t.Fatal("a malformed answer_saved was accepted")
	}
	if err := s.Apply("other.v1", "x-1", 1, []byte(`not json`)); err != nil {
		t.Fatalf("an unknown type must be skipped, got %v", err)
	}
	if rows := s.Rows(); len(rows) != 0 {
		t.Fatalf("rows %v after bad input", rows)
	}
}

func TestStatsPrint(t *testing.T) {
	t.Parallel()
	f := newFeed(t, "")
	var b strings.Builder
	if err := f.s.Print(&b); err != nil || !strings.Contains(b.String(), "no answers yet") {
		t.Fatalf("empty print %q, %v", b.String(), err)
	}
	f.draft("e1", q("q1", "What is   2+2?", "a", "b"))
	for i, c := range []string{"a", "b", "b", "b"} {
		f.answer("e1", fmt.Sprint("t", i), "q1", c)
	}
	b.Reset()
	if err := f.s.Print(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`exam e1 "Exam e1"`, "question", "percent", "q1 What is 2+2?", "b choice b", "75.0%", "25.0%"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// One line per choice, columns aligned.
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "q1 ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 || strings.Index(lines[0], "%") != strings.Index(lines[1], "%") {
		t.Errorf("choice lines %q", lines)
	}
}

// FuzzStatsApply: whatever arrives on the topics (any type, any body, any
// order, redeliveries), the consumer never panics, and every printed row
// counts a choice at most as often as attempts answered its question, and
// no more attempts than answers it accepted.
func FuzzStatsApply(f *testing.F) {
	f.Add(typeExamDrafted, `{"exam_id":"e1","title":"T","questions":[{"id":"q1","text":"Q","kind":"single","choices":[{"key":"a","text":"A"}]}]}`,
		typeAnswerSaved, `{"exam_id":"e1","attempt_id":"t1","question_id":"q1","choices":["a"]}`)
	f.Add(typeAnswerSaved, `{"exam_id":"e1","attempt_id":"t1","question_id":"q9","choices":["a","b"]}`, typeExamDrafted, `{"exam_id":"e1","questions":null}`)
	f.Add("x.unknown.v1", `{`, typeAnswerSaved, `[]`)
	f.Fuzz(func(t *testing.T, type1, body1, type2, body2 string) {
		s := NewStats("")
		accepted := 0
		for i, ev := range [][2]string{{type1, body1}, {type2, body2}, {type2, body2}} {
			if err := s.Apply(ev[0], fmt.Sprintf("stream-%d", i%2), int64(i+1), []byte(ev[1])); err == nil && ev[0] == typeAnswerSaved {
				accepted++
			}
		}
		for _, r := range s.Rows() {
			if r.Count < 0 || r.Count > r.Answered || r.Answered > accepted {
				t.Fatalf("row %+v after %d accepted answers", r, accepted)
			}
		}
		var out strings.Builder
		if err := s.Print(&out); err != nil {
			t.Fatal(err)
		}
	})
}
