package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
)

// Event types this consumer understands (docs/events.md). Everything else
// on the topics is skipped: new types must not break an old consumer.
const (
	typeExamDrafted     = "exam.drafted.v1"
	typeExamUpdated     = "exam.updated.v1"
	typeQuestionAdded   = "exam.question_added.v1"
	typeQuestionUpdated = "exam.question_updated.v1"
	typeQuestionRemoved = "exam.question_removed.v1"
	typeAnswerSaved     = "attempt.answer_saved.v1"
)

// The payload fields read here; the rest of each payload is ignored. These
// are our own declarations, not the platform's domain types: a consumer
// written in another language would have only docs/events.md too.
type (
	choice struct {
		Key  string `json:"key"`
		Text string `json:"text"`
	}
	question struct {
		ID      string   `json:"id"`
		Text    string   `json:"text"`
		Choices []choice `json:"choices"`
	}
	examDefined struct { // exam.drafted.v1 and exam.updated.v1
		ExamID    string     `json:"exam_id"`
		Title     string     `json:"title"`
		Questions []question `json:"questions"`
	}
	questionChanged struct { // exam.question_added.v1 and exam.question_updated.v1
		ExamID   string   `json:"exam_id"`
		Question question `json:"question"`
	}
	questionRemoved struct {
		ExamID     string `json:"exam_id"`
		QuestionID string `json:"question_id"`
	}
	answerSaved struct {
		AttemptID  string   `json:"attempt_id"`
		ExamID     string   `json:"exam_id"`
		QuestionID string   `json:"question_id"`
		Choices    []string `json:"choices"`
	}
)

// Stats folds exam and attempt events into per-question answer
// distributions: for each attempt and question only the latest saved answer
// counts, so a changed answer moves its count from the old choice to the new
// one, and an emptied answer removes it.
//
// The two topics are not ordered with respect to each other, so answers may
// arrive before the exam that defines their questions; they are counted all
// the same and get their labels once the exam arrives. Delivery is at least
// once: an event whose stream version was already applied is ignored, which
// makes re-reading a partition harmless.
//
// Safe for concurrent use.
type Stats struct {
	examFilter string // only this exam when not empty

	mu      sync.Mutex
	applied map[string]int64 // stream id → last stream version applied
	exams   map[string]*examStats
}

type examStats struct {
	title     string
	questions []question       // in exam order; removed ones dropped
	latest    map[answerAt]key // attempt and question → current answer
	counts    map[string]map[string]int
	answered  map[string]int // question → attempts with a non-empty answer
}

type answerAt struct{ attempt, question string }

// key is a sorted, comma-joined choice set (a comparable map value).
type key string

func choicesKey(choices []string) key {
	c := slices.Clone(choices)
	slices.Sort(c)
	return key(strings.Join(slices.Compact(c), ","))
}

func (k key) choices() []string {
	if k == "" {
		return nil
	}
	return strings.Split(string(k), ",")
}

// NewStats returns empty stats; examID, when not empty, keeps only that exam.
func NewStats(examID string) *Stats {
	return &Stats{examFilter: examID, applied: map[string]int64{}, exams: map[string]*examStats{}}
}

// Apply folds one event. stream and version come from the ce_subject and
// ce_streamversion headers (version 0: unknown, never deduplicated). An
// unknown type is skipped (nil); a known type with a body that is not its
// JSON is an error.
func (s *Stats) Apply(eventType, stream string, version int64, data []byte) error {
	decode := func(v any) error {
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("examstats: %s on %s v%d: %w", eventType, stream, version, err)
		}
		return nil
	}
	var apply func(*Stats)
	var examID string
	switch eventType {
	case typeExamDrafted, typeExamUpdated:
		var e examDefined
		if err := decode(&e); err != nil {
			return err
		}
		examID = e.ExamID
		apply = func(s *Stats) {
			x := s.exam(e.ExamID)
			x.title, x.questions = e.Title, e.Questions
		}
	case typeQuestionAdded, typeQuestionUpdated:
		var e questionChanged
		if err := decode(&e); err != nil {
			return err
		}
		examID = e.ExamID
		apply = func(s *Stats) {
			x := s.exam(e.ExamID)
			if i := x.questionIndex(e.Question.ID); i >= 0 {
				x.questions[i] = e.Question
			} else {
				x.questions = append(x.questions, e.Question)
			}
		}
	case typeQuestionRemoved:
		var e questionRemoved
		if err := decode(&e); err != nil {
			return err
		}
		examID = e.ExamID
		apply = func(s *Stats) {
			x := s.exam(e.ExamID)
			if i := x.questionIndex(e.QuestionID); i >= 0 {
				x.questions = slices.Delete(x.questions, i, i+1)
			}
		}
	case typeAnswerSaved:
		var e answerSaved
		if err := decode(&e); err != nil {
			return err
		}
		examID = e.ExamID
		apply = func(s *Stats) { s.exam(e.ExamID).answer(e.AttemptID, e.QuestionID, choicesKey(e.Choices)) }
	default:
		return nil
	}
	if s.examFilter != "" && examID != s.examFilter {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if version > 0 {
		if version <= s.applied[stream] {
			return nil
		}
		s.applied[stream] = version
	}
	apply(s)
	return nil
}

func (s *Stats) exam(id string) *examStats {
	x := s.exams[id]
	if x == nil {
		x = &examStats{latest: map[answerAt]key{}, counts: map[string]map[string]int{}, answered: map[string]int{}}
		s.exams[id] = x
	}
	return x
}

func (x *examStats) questionIndex(id string) int {
	return slices.IndexFunc(x.questions, func(q question) bool { return q.ID == id })
}

// answer replaces the attempt's answer to a question: the old choices lose a
// count, the new ones gain one.
func (x *examStats) answer(attempt, questionID string, k key) {
	at := answerAt{attempt, questionID}
	old, had := x.latest[at]
	if had && old == k {
		return
	}
	counts := x.counts[questionID]
	if counts == nil {
		counts = map[string]int{}
		x.counts[questionID] = counts
	}
	if had && old != "" {
		x.answered[questionID]--
		for _, c := range old.choices() {
			if counts[c]--; counts[c] == 0 {
				delete(counts, c)
			}
		}
	}
	x.latest[at] = k
	if k != "" {
		x.answered[questionID]++
		for _, c := range k.choices() {
			counts[c]++
		}
	}
}

// Row is one line of a distribution.
type Row struct {
	ExamID, QuestionID, Question string
	Choice, ChoiceText           string
	Count                        int
	// Answered is how many attempts answer the question; Percent is Count
	// of Answered (multiple-answer questions may add up to over 100).
	Answered int
	Percent  float64
}

// Rows returns the distributions: exams by id, questions in exam order
// (then answered questions the exam does not define, by id), choices in the
// question's order with zero counts included (then unknown choices by key).
func (s *Stats) Rows() []Row {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.exams))
	for id := range s.exams {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var rows []Row
	for _, id := range ids {
		x := s.exams[id]
		qs := slices.Clone(x.questions)
		var extra []string
		for qid := range x.counts {
			if x.questionIndex(qid) < 0 {
				extra = append(extra, qid)
			}
		}
		sort.Strings(extra)
		for _, qid := range extra {
			qs = append(qs, question{ID: qid})
		}
		for _, q := range qs {
			counts, answered := x.counts[q.ID], x.answered[q.ID]
			row := func(c choice) Row {
				r := Row{ExamID: id, QuestionID: q.ID, Question: q.Text, Choice: c.Key, ChoiceText: c.Text,
					Count: counts[c.Key], Answered: answered}
				if answered > 0 {
					r.Percent = 100 * float64(r.Count) / float64(answered)
				}
				return r
			}
			for _, c := range q.Choices {
				rows = append(rows, row(c))
			}
			var unknown []string
			for k := range counts {
				if !slices.ContainsFunc(q.Choices, func(c choice) bool { return c.Key == k }) {
					unknown = append(unknown, k)
				}
			}
			sort.Strings(unknown)
			for _, k := range unknown {
				rows = append(rows, row(choice{Key: k}))
			}
		}
	}
	return rows
}

// Title returns an exam's title ("" when its definition was not seen).
func (s *Stats) Title(examID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if x := s.exams[examID]; x != nil {
		return x.title
	}
	return ""
}

// Print writes the distributions as a text table, one block per exam.
func (s *Stats) Print(w io.Writer) error {
	rows := s.Rows()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	exam := "\x00"
	for _, r := range rows {
		if r.ExamID != exam {
			if exam != "\x00" {
				fmt.Fprintln(tw)
			}
			exam = r.ExamID
			fmt.Fprintf(tw, "exam %s %s\n", r.ExamID, quoted(s.Title(r.ExamID)))
			fmt.Fprintln(tw, "question\tchoice\tcount\tpercent")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f%%\n", label(r.QuestionID, r.Question), label(r.Choice, r.ChoiceText), r.Count, r.Percent)
	}
	if len(rows) == 0 {
		fmt.Fprintln(tw, "no answers yet")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("examstats: print: %w", err)
	}
	return nil
}

// label is "id text", the text cut to keep the table readable.
func label(id, text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > 40 {
		text = string(r[:39]) + "…"
	}
	if text == "" {
		return id
	}
	return id + " " + text
}

func quoted(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf("%q", s)
}
