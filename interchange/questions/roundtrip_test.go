package questions

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/examhall/exam/domain"
)

func normalized(t testing.TB, ins ...domain.QuestionInput) []domain.Question {
	t.Helper()
	var out []domain.Question
	for i, in := range ins {
		q, err := domain.NormalizeQuestion(in, func() string { return fmt.Sprintf("q%d", i) }, "")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, q)
	}
	return out
}

func f(v float64) *float64 { return &v }

func choices(texts ...string) []domain.Choice {
	var out []domain.Choice
	for _, t := range texts {
		out = append(out, domain.Choice{Text: t})
	}
	return out
}

// bank is what every format round-trips: the awkward characters of each
// format, several lines, points, penalties.
func bank(t testing.TB) []domain.Question {
	return normalized(t,
		domain.QuestionInput{Text: "Which is {a} = b ~ c # d: e \\ f?\nSecond line & <b>not bold</b>.", Kind: domain.KindSingle,
			Choices: choices("{a} = b", "a ~ b: c", "100% #1 <i>"), Correct: []string{"c"}, Points: f(2), NegativePoints: f(0.5)},
		domain.QuestionInput{Text: "Which are organelles?", Kind: domain.KindMultiple,
			Choices: choices("Golgi body", "Plasma", "Lysosome", "Sand"), Correct: []string{"a", "c"}, Points: f(3)},
		domain.QuestionInput{Text: "Three of four.", Kind: domain.KindMultiple,
			Choices: choices("w", "x", "y", "z"), Correct: []string{"a", "b", "d"}, Points: f(1)},
		domain.QuestionInput{Text: "Plant cells have walls.", Kind: domain.KindTrueFalse, Correct: []string{"true"}},
		domain.QuestionInput{Text: "Animal cells have walls.", Kind: domain.KindTrueFalse, Correct: []string{"false"}, Points: f(1.5)},
		domain.QuestionInput{Text: "Paragraphs.\n\nAfter a blank line.", Kind: domain.KindSingle, Choices: choices("Yes", "No"), Correct: []string{"a"}},
	)
}

// comparable is what a round trip keeps.
type comparable struct {
	Text     string
	Kind     domain.QuestionKind
	Choices  []domain.Choice
	Correct  []string
	Points   float64
	Negative float64
}

func fromQuestion(q domain.Question) comparable {
	return comparable{q.Text, q.Kind, q.Choices, q.Correct, q.Points, q.NegativePoints}
}

func fromItem(t *testing.T, it Item) comparable {
	t.Helper()
	if it.Unsupported != "" {
		t.Fatalf("item %d unsupported: %s", it.Index, it.Unsupported)
	}
	q, err := domain.NormalizeQuestion(it.Question, func() string { return "x" }, "")
	if err != nil {
		t.Fatalf("item %d: %v", it.Index, err)
	}
	return fromQuestion(q)
}

func roundTrip(t *testing.T, format Format, qs []domain.Question, images Images) []Item {
	t.Helper()
	file, err := Export(format, qs, images)
	if err != nil {
		t.Fatal(err)
	}
	var items []Item
	if format == QTI {
		items, err = ParseQTIPackage(openZip(t, file.Data))
	} else {
		if got, ok := Detect(file.Data); !ok || got != format {
			t.Fatalf("the export is detected as %q", got)
		}
		items, err = Parse(format, file.Data)
	}
	if err != nil {
		t.Fatalf("import of the export: %v\n%s", err, file.Data)
	}
	if len(items) != len(qs) {
		t.Fatalf("%d items back, want %d", len(items), len(qs))
	}
	for i, q := range qs {
		if got, want := fromItem(t, items[i]), fromQuestion(q); !reflect.DeepEqual(got, want) {
			t.Errorf("question %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	return items
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, format := range []Format{GIFT, MoodleXML, QTI} {
		t.Run(string(format), func(t *testing.T) {
			roundTrip(t, format, bank(t), nil)
		})
	}
	t.Run("aiken", func(t *testing.T) {
		qs := normalized(t,
			domain.QuestionInput{Text: "First?", Kind: domain.KindSingle, Choices: choices("A. not a letter", "b) nor this", "ANSWER: A"), Correct: []string{"b"}},
			domain.QuestionInput{Text: "Second\non two lines?", Kind: domain.KindSingle, Choices: choices("x", "y"), Correct: []string{"a"}})
		file, err := Export(Aiken, qs, nil)
		if err != nil {
			t.Fatal(err)
		}
		items, err := ParseAiken(file.Data)
		if err != nil {
			t.Fatalf("%v\n%s", err, file.Data)
		}
		qs[1].Text = "Second on two lines?" // Aiken has one line per question
		for i, q := range qs {
			if got, want := fromItem(t, items[i]), fromQuestion(q); !reflect.DeepEqual(got, want) {
				t.Errorf("question %d:\n got %+v\nwant %+v", i, got, want)
			}
		}
	})
	t.Run("aiken refuses what it cannot carry", func(t *testing.T) {
		_, err := Export(Aiken, bank(t), nil)
		var nr *NotRepresentableError
		if !errors.As(err, &nr) || len(nr.Problems) != 5 || nr.Problems[0].Index != 0 || nr.Problems[1].Index != 1 {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("multiple with one right answer and a penalty", func(t *testing.T) {
		qs := normalized(t, domain.QuestionInput{Text: "One of them.", Kind: domain.KindMultiple, Choices: choices("p", "q", "r"),
			Correct: []string{"b"}, Points: f(2), NegativePoints: f(1)})
		roundTrip(t, GIFT, qs, nil)
		roundTrip(t, QTI, qs, nil)
		roundTrip(t, MoodleXML, qs, nil)
	})
	t.Run("a penalty over the points", func(t *testing.T) {
		qs := normalized(t, domain.QuestionInput{Text: "Harsh.", Kind: domain.KindSingle, Choices: choices("p", "q"),
			Correct: []string{"a"}, Points: f(1), NegativePoints: f(3)})
		roundTrip(t, GIFT, qs, nil)
		roundTrip(t, QTI, qs, nil)
		roundTrip(t, MoodleXML, qs, nil)
	})
	t.Run("qti keeps its own keys", func(t *testing.T) {
		qs := normalized(t, domain.QuestionInput{Text: "Keys.", Kind: domain.KindSingle,
			Choices: []domain.Choice{{Key: "x1", Text: "p"}, {Key: "y2", Text: "q"}}, Correct: []string{"y2"}})
		roundTrip(t, QTI, qs, nil)
	})
	t.Run("images", func(t *testing.T) {
		qs := bank(t)
		id := domain.ImageID(onePixelPNG)
		qs[0].ImageID = id
		images := func(got string) ([]byte, bool) { return onePixelPNG, got == id }
		for _, format := range []Format{MoodleXML, QTI} {
			items := roundTrip(t, format, qs, images)
			if string(items[0].Image) != string(onePixelPNG) || items[1].Image != nil {
				t.Errorf("%s: images %d, %d bytes", format, len(items[0].Image), len(items[1].Image))
			}
		}
	})
}

// TestRoundTripRandom: many random questions (texts full of each format's
// special characters, every kind, points and penalties) survive every
// format that can carry them.
func TestRoundTripRandom(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune(`ab Z09 {}=~#:\%<>&"'/é漢 -.!?`)
	text := func(n int) string {
		out := make([]rune, 1+r.IntN(n))
		for i := range out {
			out[i] = alphabet[r.IntN(len(alphabet))]
		}
		s := strings.Join(strings.Fields(string(out)), " ")
		if s == "" || strings.HasPrefix(s, "%") || strings.HasPrefix(s, "->") {
			s = "x" + s
		}
		return s
	}
	var ins []domain.QuestionInput
	for range 200 {
		points := []float64{0.5, 1, 2, 3.25}[r.IntN(4)]
		in := domain.QuestionInput{Text: text(40), Points: &points}
		if r.IntN(3) == 0 {
			in.Text += "\nline two " + text(10)
		}
		switch r.IntN(3) {
		case 0:
			in.Kind = domain.KindTrueFalse
			in.Correct = []string{[]string{"true", "false"}[r.IntN(2)]}
		case 1:
			in.Kind = domain.KindSingle
			n := 2 + r.IntN(5)
			for i := range n {
				in.Choices = append(in.Choices, domain.Choice{Text: fmt.Sprintf("%d %s", i, text(12))})
			}
			in.Correct = []string{string(rune('a' + r.IntN(n)))}
		default:
			in.Kind = domain.KindMultiple
			n := 2 + r.IntN(5)
			for i := range n {
				in.Choices = append(in.Choices, domain.Choice{Text: fmt.Sprintf("%d %s", i, text(12))})
			}
			for i := range n {
				if r.IntN(2) == 0 || (i == n-1 && len(in.Correct) == 0) {
					in.Correct = append(in.Correct, string(rune('a'+i)))
				}
			}
		}
		if r.IntN(2) == 0 {
			neg := []float64{0.25, 0.5, 1}[r.IntN(3)]
			in.NegativePoints = &neg
		}
		ins = append(ins, in)
	}
	qs := normalized(t, ins...)
	for _, format := range []Format{GIFT, MoodleXML, QTI} {
		t.Run(string(format), func(t *testing.T) { roundTrip(t, format, qs, nil) })
	}
}
