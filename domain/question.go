package domain

import (
	"fmt"
	"math"
	"strings"
)

// QuestionKind is how a question is answered and scored.
type QuestionKind string

const (
	KindSingle    QuestionKind = "single"
	KindMultiple  QuestionKind = "multiple"
	KindTrueFalse QuestionKind = "true_false"
)

// Limits on what an exam may hold; they bound memory and event sizes.
const (
	MaxQuestions     = 500
	MaxChoices       = 26
	MaxTextLen       = 10_000
	MaxTitleLen      = 200
	MaxDescLen       = 10_000
	MaxChoiceKeyLen  = 16
	MaxPoints        = 1000
	DefaultPoints    = 1
	MaxTimeLimitSecs = 7 * 24 * 3600
)

// Choice is one option of a question.
type Choice struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

// Question is one item of an exam, including its answer key.
type Question struct {
	ID             string       `json:"id"`
	Text           string       `json:"text"`
	Kind           QuestionKind `json:"kind"`
	Choices        []Choice     `json:"choices"`
	Correct        []string     `json:"correct"`
	Points         float64      `json:"points"`
	NegativePoints float64      `json:"negative_points"`
	ImageID        string       `json:"image_id,omitempty"`
}

// QuestionInput is a question as a client sends it; Points nil means the default.
type QuestionInput struct {
	ID             string
	Text           string
	Kind           QuestionKind
	Choices        []Choice
	Correct        []string
	Points         *float64
	NegativePoints *float64
	ImageID        string
}

// NormalizeQuestion fills defaults (choice keys a, b, c…; true/false choices;
// points 1; a new id when none is given) and validates. Field names in the
// returned ValidationError are prefixed with prefix (e.g. "questions[2].").
func NormalizeQuestion(in QuestionInput, newID func() string, prefix string) (Question, error) {
	fields := map[string]string{}
	q := Question{
		ID:      strings.TrimSpace(in.ID),
		Text:    strings.TrimSpace(in.Text),
		Kind:    in.Kind,
		ImageID: strings.TrimSpace(in.ImageID),
		Points:  DefaultPoints,
	}
	if q.ID == "" {
		q.ID = newID()
	} else if len(q.ID) > 64 {
		fields[prefix+"id"] = "must be at most 64 characters"
	}
	if q.Text == "" {
		fields[prefix+"text"] = "is required"
	} else if len(q.Text) > MaxTextLen {
		fields[prefix+"text"] = fmt.Sprintf("must be at most %d characters", MaxTextLen)
	}
	checkText(fields, prefix+"text", q.Text, true)
	if in.Points != nil {
		q.Points = *in.Points
	}
	if in.NegativePoints != nil {
		q.NegativePoints = *in.NegativePoints
	}
	if !(q.Points > 0 && q.Points <= MaxPoints) || math.IsNaN(q.Points) {
		fields[prefix+"points"] = fmt.Sprintf("must be greater than 0 and at most %d", MaxPoints)
	}
	if !(q.NegativePoints >= 0 && q.NegativePoints <= MaxPoints) {
		fields[prefix+"negative_points"] = fmt.Sprintf("must be between 0 and %d", MaxPoints)
	}

	switch q.Kind {
	case KindTrueFalse:
		if len(in.Choices) == 0 {
			q.Choices = []Choice{{Key: "true", Text: "True"}, {Key: "false", Text: "False"}}
		} else {
			q.Choices = normalizeChoices(in.Choices)
			if len(q.Choices) != 2 || !hasKey(q.Choices, "true") || !hasKey(q.Choices, "false") {
				fields[prefix+"choices"] = `true_false questions have exactly the choices "true" and "false"`
			}
			for i, c := range q.Choices {
				checkText(fields, fmt.Sprintf("%schoices[%d].text", prefix, i), c.Text, true)
			}
		}
	case KindSingle, KindMultiple:
		q.Choices = normalizeChoices(in.Choices)
		validateChoices(q.Choices, prefix, fields)
	default:
		fields[prefix+"kind"] = `must be one of "single", "multiple", "true_false"`
	}
	q.Correct = normalizeKeys(in.Correct)
	if msg := validateCorrect(q.Kind, q.Choices, q.Correct); msg != "" {
		fields[prefix+"correct"] = msg
	}
	if err := NewValidationError(fields); err != nil {
		return Question{}, err
	}
	return q, nil
}

func normalizeChoices(in []Choice) []Choice {
	out := make([]Choice, len(in))
	for i, c := range in {
		key := strings.TrimSpace(c.Key)
		if key == "" && i < MaxChoices {
			key = string(rune('a' + i))
		}
		out[i] = Choice{Key: key, Text: strings.TrimSpace(c.Text)}
	}
	return out
}

func validateChoices(choices []Choice, prefix string, fields map[string]string) {
	if len(choices) < 2 {
		fields[prefix+"choices"] = "needs at least 2 choices"
		return
	}
	if len(choices) > MaxChoices {
		fields[prefix+"choices"] = fmt.Sprintf("at most %d choices", MaxChoices)
		return
	}
	seen := map[string]bool{}
	for i, c := range choices {
		switch {
		case c.Key == "" || len(c.Key) > MaxChoiceKeyLen:
			fields[fmt.Sprintf("%schoices[%d].key", prefix, i)] = fmt.Sprintf("must be 1 to %d characters", MaxChoiceKeyLen)
		case seen[c.Key]:
			fields[fmt.Sprintf("%schoices[%d].key", prefix, i)] = "duplicate key"
		}
		seen[c.Key] = true
		if c.Text == "" {
			fields[fmt.Sprintf("%schoices[%d].text", prefix, i)] = "is required"
		} else if len(c.Text) > MaxTextLen {
			fields[fmt.Sprintf("%schoices[%d].text", prefix, i)] = "is too long"
		}
		checkText(fields, fmt.Sprintf("%schoices[%d].text", prefix, i), c.Text, true)
	}
}

// validateCorrect returns a reason when the correct keys do not fit the kind
// and the choices, "" when they do.
func validateCorrect(kind QuestionKind, choices []Choice, correct []string) string {
	if len(correct) == 0 {
		return "needs at least one correct key"
	}
	seen := map[string]bool{}
	for _, k := range correct {
		if !hasKey(choices, k) {
			return fmt.Sprintf("%q is not a choice key", k)
		}
		if seen[k] {
			return fmt.Sprintf("%q is listed twice", k)
		}
		seen[k] = true
	}
	if (kind == KindSingle || kind == KindTrueFalse) && len(correct) != 1 {
		return "single and true_false questions have exactly one correct key"
	}
	return ""
}

func normalizeKeys(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, strings.TrimSpace(k))
	}
	return out
}

func hasKey(choices []Choice, key string) bool {
	for _, c := range choices {
		if c.Key == key {
			return true
		}
	}
	return false
}

// ValidateAnswer checks a student's choices against the question: known keys,
// no repeats, at most one for single and true_false. An empty list clears
// the answer.
func (q Question) ValidateAnswer(choices []string) error {
	if len(choices) > len(q.Choices) {
		return fmt.Errorf("%w: more choices than the question has", ErrInvalidChoice)
	}
	seen := make(map[string]bool, len(choices))
	for _, c := range choices {
		if !hasKey(q.Choices, c) {
			return fmt.Errorf("%w: %q is not a choice of question %s", ErrInvalidChoice, c, q.ID)
		}
		if seen[c] {
			return fmt.Errorf("%w: %q chosen twice", ErrInvalidChoice, c)
		}
		seen[c] = true
	}
	if q.Kind != KindMultiple && len(choices) > 1 {
		return fmt.Errorf("%w: question %s takes one choice", ErrInvalidChoice, q.ID)
	}
	return nil
}

// WithoutKey returns the question as a student may see it before grading.
func (q Question) WithoutKey() Question {
	q.Correct = nil
	return q
}

func cloneQuestions(qs []Question) []Question {
	out := make([]Question, len(qs))
	for i, q := range qs {
		q.Choices = append([]Choice(nil), q.Choices...)
		q.Correct = append([]string(nil), q.Correct...)
		out[i] = q
	}
	return out
}
