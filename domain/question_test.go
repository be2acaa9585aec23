package domain

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func abc(texts ...string) []Choice {
	out := make([]Choice, len(texts))
	for i, t := range texts {
		out[i] = Choice{Text: t}
	}
	return out
}

func keyed(keys ...string) []Choice {
	out := make([]Choice, len(keys))
	for i, k := range keys {
		out[i] = Choice{Key: k, Text: "choice " + k}
	}
	return out
}

func TestNormalizeQuestion(t *testing.T) {
	single := func(edit func(*QuestionInput)) QuestionInput {
		in := QuestionInput{Text: "Pick one", Kind: KindSingle, Choices: abc("x", "y", "z"), Correct: []string{"a"}}
		if edit != nil {
			edit(&in)
		}
		return in
	}
	tooMany := make([]Choice, MaxChoices+1)
	for i := range tooMany {
		tooMany[i] = Choice{Key: "k" + string(rune('A'+i)), Text: "t"}
	}

	tests := []struct {
		name   string
		in     QuestionInput
		prefix string
		fields []string // invalid fields; nil means valid
		check  func(t *testing.T, q Question)
	}{
		{name: "single with omitted keys gets a, b, c", in: single(nil), check: func(t *testing.T, q Question) {
			want := []Choice{{Key: "a", Text: "x"}, {Key: "b", Text: "y"}, {Key: "c", Text: "z"}}
			if !reflect.DeepEqual(q.Choices, want) {
				t.Errorf("choices = %v, want %v", q.Choices, want)
			}
		}},
		{name: "given keys, texts and correct keys are trimmed", in: single(func(in *QuestionInput) {
			in.Text = "  Pick one  "
			in.Choices = []Choice{{Key: " x ", Text: " one "}, {Key: "y", Text: "two"}}
			in.Correct = []string{" y "}
		}), check: func(t *testing.T, q Question) {
			if q.Text != "Pick one" || q.Choices[0] != (Choice{Key: "x", Text: "one"}) || q.Correct[0] != "y" {
				t.Errorf("not trimmed: %+v", q)
			}
		}},
		{name: "true_false gets true and false choices automatically",
			in: QuestionInput{Text: "Sky is blue", Kind: KindTrueFalse, Correct: []string{"true"}},
			check: func(t *testing.T, q Question) {
				if len(q.Choices) != 2 || q.Choices[0].Key != "true" || q.Choices[1].Key != "false" {
					t.Errorf("choices = %v", q.Choices)
				}
				if q.Choices[0].Text == "" || q.Choices[1].Text == "" {
					t.Errorf("automatic choices need texts: %v", q.Choices)
				}
			}},
		{name: "true_false with explicit true and false choices is accepted",
			in: QuestionInput{Text: "Sky is blue", Kind: KindTrueFalse, Choices: []Choice{{Key: "false", Text: "No"}, {Key: "true", Text: "Yes"}}, Correct: []string{"false"}}},
		{name: "true_false with other keys is rejected",
			in:     QuestionInput{Text: "Sky is blue", Kind: KindTrueFalse, Choices: keyed("yes", "no"), Correct: []string{"yes"}},
			fields: []string{"choices"}},
		{name: "true_false with letter keys by default is rejected",
			in:     QuestionInput{Text: "Sky is blue", Kind: KindTrueFalse, Choices: abc("True", "False"), Correct: []string{"a"}},
			fields: []string{"choices"}},
		{name: "true_false with a third choice is rejected",
			in:     QuestionInput{Text: "Sky is blue", Kind: KindTrueFalse, Choices: keyed("true", "false", "maybe"), Correct: []string{"true"}},
			fields: []string{"choices"}},
		{name: "true_false correct key must be true or false",
			in:     QuestionInput{Text: "Sky is blue", Kind: KindTrueFalse, Correct: []string{"yes"}},
			fields: []string{"correct"}},
		{name: "true_false needs exactly one correct key",
			in:     QuestionInput{Text: "Sky is blue", Kind: KindTrueFalse, Correct: []string{"true", "false"}},
			fields: []string{"correct"}},
		{name: "duplicate choice keys are rejected",
			in:     single(func(in *QuestionInput) { in.Choices = keyed("a", "b", "a") }),
			fields: []string{"choices[2].key"}},
		{name: "a given key equal to a defaulted key is a duplicate",
			in:     single(func(in *QuestionInput) { in.Choices = []Choice{{Text: "x"}, {Key: "a", Text: "y"}} }),
			fields: []string{"choices[1].key"}},
		{name: "one choice is rejected",
			in:     single(func(in *QuestionInput) { in.Choices = abc("only") }),
			fields: []string{"choices"}},
		{name: "no choices are rejected (and then no key can be correct)",
			in:     single(func(in *QuestionInput) { in.Choices = nil }),
			fields: []string{"choices", "correct"}},
		{name: "more than MaxChoices choices are rejected",
			in:     single(func(in *QuestionInput) { in.Choices = tooMany; in.Correct = []string{"kA"} }),
			fields: []string{"choices"}},
		{name: "a choice key longer than 16 characters is rejected",
			in:     single(func(in *QuestionInput) { in.Choices = keyed(strings.Repeat("k", 17), "b"); in.Correct = []string{"b"} }),
			fields: []string{"choices[0].key"}},
		{name: "a choice without text is rejected",
			in:     single(func(in *QuestionInput) { in.Choices = []Choice{{Text: "x"}, {Text: "  "}} }),
			fields: []string{"choices[1].text"}},
		{name: "a choice text longer than MaxTextLen is rejected",
			in:     single(func(in *QuestionInput) { in.Choices = []Choice{{Text: "x"}, {Text: strings.Repeat("y", MaxTextLen+1)}} }),
			fields: []string{"choices[1].text"}},
		{name: "a correct key that is not a choice is rejected",
			in:     single(func(in *QuestionInput) { in.Correct = []string{"d"} }),
			fields: []string{"correct"}},
		{name: "no correct key is rejected",
			in:     single(func(in *QuestionInput) { in.Correct = nil }),
			fields: []string{"correct"}},
		{name: "single needs exactly one correct key",
			in:     single(func(in *QuestionInput) { in.Correct = []string{"a", "b"} }),
			fields: []string{"correct"}},
		{name: "multiple with one correct key is valid",
			in: single(func(in *QuestionInput) { in.Kind = KindMultiple; in.Correct = []string{"c"} })},
		{name: "multiple with every key correct is valid",
			in: single(func(in *QuestionInput) { in.Kind = KindMultiple; in.Correct = []string{"a", "b", "c"} })},
		{name: "multiple with no correct key is rejected",
			in:     single(func(in *QuestionInput) { in.Kind = KindMultiple; in.Correct = []string{} }),
			fields: []string{"correct"}},
		{name: "multiple with a correct key listed twice is rejected",
			in:     single(func(in *QuestionInput) { in.Kind = KindMultiple; in.Correct = []string{"a", "a"} }),
			fields: []string{"correct"}},
		{name: "unknown kind is rejected",
			in:     single(func(in *QuestionInput) { in.Kind = "essay" }),
			fields: []string{"kind", "correct"}},
		{name: "text is required",
			in:     single(func(in *QuestionInput) { in.Text = "   " }),
			fields: []string{"text"}},
		{name: "text longer than MaxTextLen is rejected",
			in:     single(func(in *QuestionInput) { in.Text = strings.Repeat("x", MaxTextLen+1) }),
			fields: []string{"text"}},
		{name: "points default to 1 and negative points to 0", in: single(nil), check: func(t *testing.T, q Question) {
			if q.Points != 1 || q.NegativePoints != 0 {
				t.Errorf("points = %v, negative = %v; want 1 and 0", q.Points, q.NegativePoints)
			}
		}},
		{name: "fractional points and negative points are kept",
			in: single(func(in *QuestionInput) { in.Points = ptr(2.5); in.NegativePoints = ptr(0.25) }),
			check: func(t *testing.T, q Question) {
				if q.Points != 2.5 || q.NegativePoints != 0.25 {
					t.Errorf("points = %v, negative = %v", q.Points, q.NegativePoints)
				}
			}},
		{name: "MaxPoints is allowed", in: single(func(in *QuestionInput) { in.Points = ptr(float64(MaxPoints)) })},
		{name: "zero points are rejected", in: single(func(in *QuestionInput) { in.Points = ptr(0.0) }), fields: []string{"points"}},
		{name: "negative points are rejected", in: single(func(in *QuestionInput) { in.Points = ptr(-1.0) }), fields: []string{"points"}},
		{name: "points above MaxPoints are rejected", in: single(func(in *QuestionInput) { in.Points = ptr(MaxPoints + 0.5) }), fields: []string{"points"}},
		{name: "NaN points are rejected", in: single(func(in *QuestionInput) { in.Points = ptr(math.NaN()) }), fields: []string{"points"}},
		{name: "infinite points are rejected", in: single(func(in *QuestionInput) { in.Points = ptr(math.Inf(1)) }), fields: []string{"points"}},
		{name: "negative_points below 0 are rejected", in: single(func(in *QuestionInput) { in.NegativePoints = ptr(-0.5) }), fields: []string{"negative_points"}},
		{name: "NaN negative_points are rejected", in: single(func(in *QuestionInput) { in.NegativePoints = ptr(math.NaN()) }), fields: []string{"negative_points"}},
		{name: "negative_points above MaxPoints are rejected", in: single(func(in *QuestionInput) { in.NegativePoints = ptr(MaxPoints + 1.0) }), fields: []string{"negative_points"}},
		{name: "explicit zero negative_points are fine", in: single(func(in *QuestionInput) { in.NegativePoints = ptr(0.0) })},
		{name: "id is generated when empty", in: single(nil), check: func(t *testing.T, q Question) {
			if q.ID != "gen-1" {
				t.Errorf("id = %q, want the generated gen-1", q.ID)
			}
		}},
		{name: "id is generated when blank", in: single(func(in *QuestionInput) { in.ID = "  " }), check: func(t *testing.T, q Question) {
			if q.ID != "gen-1" {
				t.Errorf("id = %q, want gen-1", q.ID)
			}
		}},
		{name: "given id is kept (trimmed)", in: single(func(in *QuestionInput) { in.ID = " q-7 " }), check: func(t *testing.T, q Question) {
			if q.ID != "q-7" {
				t.Errorf("id = %q, want q-7", q.ID)
			}
		}},
		{name: "id longer than 64 characters is rejected", in: single(func(in *QuestionInput) { in.ID = strings.Repeat("i", 65) }), fields: []string{"id"}},
		{name: "image id is trimmed and kept", in: single(func(in *QuestionInput) { in.ImageID = " img-1 " }), check: func(t *testing.T, q Question) {
			if q.ImageID != "img-1" {
				t.Errorf("image id = %q", q.ImageID)
			}
		}},
		{name: "field names carry the prefix", prefix: "questions[2].",
			in: single(func(in *QuestionInput) {
				in.Text = ""
				in.Points = ptr(0.0)
				in.Choices = []Choice{{Text: "x"}, {Text: ""}}
			}),
			fields: []string{"questions[2].text", "questions[2].points", "questions[2].choices[1].text"}},
		{name: "every problem is reported at once",
			in:     QuestionInput{Kind: KindSingle, Choices: keyed("a", "a"), Correct: []string{"z"}, Points: ptr(-1.0), NegativePoints: ptr(-1.0)},
			fields: []string{"text", "points", "negative_points", "choices[1].key", "correct"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := NormalizeQuestion(tc.in, seqIDs("gen-"), tc.prefix)
			if tc.fields != nil {
				wantFields(t, err, tc.fields...)
				if !reflect.DeepEqual(q, Question{}) {
					t.Errorf("invalid question returned a value: %+v", q)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.check != nil {
				tc.check(t, q)
			}
		})
	}
}

func TestValidateAnswer(t *testing.T) {
	single := Question{ID: "s", Kind: KindSingle, Choices: keyed("a", "b", "c"), Correct: []string{"b"}}
	multiple := Question{ID: "m", Kind: KindMultiple, Choices: keyed("a", "b", "c", "d"), Correct: []string{"a", "b"}}
	trueFalse := Question{ID: "tf", Kind: KindTrueFalse, Choices: keyed("true", "false"), Correct: []string{"true"}}

	tests := []struct {
		name    string
		q       Question
		choices []string
		valid   bool
	}{
		{"single: one known key", single, []string{"c"}, true},
		{"single: unknown key", single, []string{"d"}, false},
		{"single: keys are case-sensitive", single, []string{"A"}, false},
		{"single: two keys", single, []string{"a", "b"}, false},
		{"single: repeated key", single, []string{"a", "a"}, false},
		{"single: nil clears the answer", single, nil, true},
		{"single: empty list clears the answer", single, []string{}, true},
		{"multiple: one key", multiple, []string{"d"}, true},
		{"multiple: several keys", multiple, []string{"a", "c", "d"}, true},
		{"multiple: every key", multiple, []string{"d", "c", "b", "a"}, true},
		{"multiple: repeated key", multiple, []string{"a", "b", "a"}, false},
		{"multiple: unknown key among known ones", multiple, []string{"a", "e"}, false},
		{"multiple: more choices than the question has", multiple, []string{"a", "b", "c", "d", "e"}, false},
		{"multiple: empty clears the answer", multiple, []string{}, true},
		{"true_false: true", trueFalse, []string{"true"}, true},
		{"true_false: false", trueFalse, []string{"false"}, true},
		{"true_false: both", trueFalse, []string{"true", "false"}, false},
		{"true_false: not a key", trueFalse, []string{"yes"}, false},
		{"true_false: empty clears the answer", trueFalse, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.q.ValidateAnswer(tc.choices)
			if tc.valid {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidChoice) {
				t.Fatalf("error = %v, want ErrInvalidChoice", err)
			}
		})
	}
}

func TestWithoutKeyDropsOnlyTheKey(t *testing.T) {
	q := Question{ID: "q", Text: "t", Kind: KindSingle, Choices: keyed("a", "b"), Correct: []string{"a"}, Points: 2}
	stripped := q.WithoutKey()
	if stripped.Correct != nil {
		t.Fatalf("correct = %v, want nil", stripped.Correct)
	}
	stripped.Correct = q.Correct
	if !reflect.DeepEqual(stripped, q) {
		t.Fatalf("WithoutKey changed more than the key: %+v", stripped)
	}
	if len(q.Correct) != 1 {
		t.Fatalf("WithoutKey modified the original")
	}
}
