package questions

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/examhall/exam/domain"
)

// Format names a question file format, as the API's format field spells it.
type Format string

const (
	GIFT      Format = "gift"
	Aiken     Format = "aiken"
	MoodleXML Format = "moodle_xml"
	QTI       Format = "qti"
)

// Formats lists every format, in the order the API documents them.
var Formats = []Format{GIFT, Aiken, MoodleXML, QTI}

// ParseFormat names the format s spells, or false.
func ParseFormat(s string) (Format, bool) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	return f, slices.Contains(Formats, f)
}

// MaxItems bounds the questions one file may hold (an exam holds at most
// domain.MaxQuestions; a bank a little more, of which some may be skipped).
const MaxItems = 2 * domain.MaxQuestions

// Item is one question of a file, in file order.
type Item struct {
	// Index is the 0-based position of the question among the file's
	// questions (category entries and comments are not questions).
	Index int
	// Title is the question's name in the file, or the start of its text.
	Title string
	// Question is what the platform would store (meaningless when
	// Unsupported is set). Its Points is always set.
	Question domain.QuestionInput
	// Image is the bytes of the question's embedded image (Moodle XML's
	// @@PLUGINFILE@@ files, a QTI package's <img>), nil when none; it is a
	// PNG, JPEG, GIF or WebP of at most domain.MaxImageBytes. The caller
	// stores it and sets Question.ImageID.
	Image []byte
	// Unsupported says why the platform cannot represent the question; ""
	// when it can.
	Unsupported string
}

// ErrMalformed is what every *MalformedError matches with errors.Is.
var ErrMalformed = errors.New("malformed question file")

// MalformedError says where and why a file does not follow its format.
type MalformedError struct {
	Format Format
	// Line is the 1-based line the problem is on, 0 when unknown.
	Line   int
	Reason string
}

func (e *MalformedError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", e.Format, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Format, e.Reason)
}

// Is makes errors.Is(err, ErrMalformed) hold.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

func malformed(f Format, line int, format string, args ...any) error {
	return &MalformedError{Format: f, Line: line, Reason: fmt.Sprintf(format, args...)}
}

// answer is one answer of a question as the formats write it: its text and
// the percentage of the points it earns (negative: a penalty).
type answer struct {
	key      string // a choice key the file gives (QTI identifiers), or ""
	text     string
	fraction float64
}

// tolerance absorbs the rounding of fractions files carry (33.33333%).
const tolerance = 0.01

// fromAnswers maps a question's answers to the platform's model (see the
// package doc). multiple forces a multiple-answer question even with one
// correct answer (Moodle's <single>false</single>, QTI's cardinality). It
// returns the reason when the answers cannot be represented.
func fromAnswers(text string, answers []answer, points float64, multiple bool) (domain.QuestionInput, string) {
	in := domain.QuestionInput{Text: text, Points: &points}
	if len(answers) < 2 {
		return in, "has fewer than two answers to choose from"
	}
	var right []int
	for i, a := range answers {
		if a.fraction > tolerance {
			right = append(right, i)
		}
		// Penalties beyond -100% are kept (negative_points may exceed the
		// points); more than 100% is no answer the platform can score.
		if a.fraction > 100+tolerance || math.IsNaN(a.fraction) || math.IsInf(a.fraction, 0) {
			return in, fmt.Sprintf("answer %d is worth %g%%, more than 100%%", i+1, a.fraction)
		}
	}
	key := func(i int) string {
		if answers[i].key != "" || i >= domain.MaxChoices {
			return answers[i].key
		}
		return string(rune('a' + i))
	}
	for i, a := range answers {
		in.Choices = append(in.Choices, domain.Choice{Key: key(i), Text: a.text})
	}
	full := 0
	for _, i := range right {
		if math.Abs(answers[i].fraction-100) <= tolerance {
			full++
		}
	}
	switch {
	case len(right) == 0:
		return in, "no answer is marked correct"
	case len(right) == 1 && !multiple:
		if math.Abs(answers[right[0]].fraction-100) > tolerance {
			return in, fmt.Sprintf("its best answer earns %g%%: partial credit on a single answer is not supported", answers[right[0]].fraction)
		}
		in.Kind = domain.KindSingle
		in.Correct = []string{key(right[0])}
		penalty, seen, mixed := 0.0, false, false
		for i, a := range answers {
			switch {
			case i == right[0]:
			case !seen:
				penalty, seen = a.fraction, true
			case math.Abs(a.fraction-penalty) > tolerance:
				mixed = true
			}
		}
		if mixed {
			return in, "its wrong answers carry different penalties"
		}
		if penalty < -tolerance {
			neg := round6(-penalty / 100 * points)
			in.NegativePoints = &neg
		}
	case !multiple && full > 1:
		return in, "several answers are each fully correct (any one of them earns the points)"
	case !multiple && full == 1:
		return in, "some answers earn partial credit: partial credit on a single answer is not supported"
	default:
		share := 100 / float64(len(right))
		sum := 0.0
		for _, i := range right {
			sum += answers[i].fraction
			if math.Abs(answers[i].fraction-share) > tolerance*10 {
				return in, "its correct answers carry unequal shares of the points"
			}
		}
		if math.Abs(sum-100) > 0.1 {
			return in, fmt.Sprintf("its correct answers add up to %g%%, not 100%%", sum)
		}
		in.Kind = domain.KindMultiple
		for _, i := range right {
			in.Correct = append(in.Correct, key(i))
		}
	}
	return in, ""
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// trueFalse is a true/false question whose right answer is truth.
func trueFalse(text string, truth bool, points float64) domain.QuestionInput {
	key := "false"
	if truth {
		key = "true"
	}
	return domain.QuestionInput{Text: text, Kind: domain.KindTrueFalse, Correct: []string{key}, Points: &points}
}

// check validates a supported item with the domain's own rules, so what a
// file holds and the platform would refuse (a text too long, 30 choices) is
// reported per question instead of failing the whole append later.
func check(it *Item) {
	if it.Unsupported != "" {
		return
	}
	if it.Image != nil && domain.SniffImageType(it.Image) == "" {
		it.Unsupported = "its image is not a PNG, JPEG, GIF or WebP image"
		return
	}
	if len(it.Image) > domain.MaxImageBytes {
		it.Unsupported = "its image is larger than 2 MiB"
		return
	}
	_, err := domain.NormalizeQuestion(it.Question, func() string { return "check" }, "")
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		keys := make([]string, 0, len(ve.Fields))
		for k := range ve.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " " + ve.Fields[k]
		}
		it.Unsupported = strings.Join(parts, "; ")
	}
}

// finish numbers, titles and checks the items of a parsed file.
func finish(f Format, items []Item) ([]Item, error) {
	if len(items) == 0 {
		return nil, malformed(f, 0, "holds no questions")
	}
	if len(items) > MaxItems {
		return nil, malformed(f, 0, "holds more than %d questions", MaxItems)
	}
	for i := range items {
		items[i].Index = i
		if items[i].Title == "" {
			items[i].Title = titleFrom(items[i].Question.Text)
		}
		check(&items[i])
	}
	return items, nil
}

// titleFrom is the start of a text, for reports about untitled questions.
func titleFrom(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > 60 {
		return string(r[:57]) + "…"
	}
	return text
}

// cleanText makes imported text safe for the platform: line ends become
// \n, control characters other than newline and tab and bidirectional
// overrides are dropped (a file must not smuggle in what the API refuses),
// lines lose trailing spaces and the text its surrounding blank lines.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == unicode.ReplacementChar, unicode.IsControl(r), isBidiControl(r), r == '\ufeff':
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// cleanLine is cleanText for one-line texts (choices, titles): all
// whitespace runs become one space.
func cleanLine(s string) string { return strings.Join(strings.Fields(cleanText(s)), " ") }

func isBidiControl(r rune) bool {
	return (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') || r == '\u200e' || r == '\u200f' || r == '\u061c'
}
