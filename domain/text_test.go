package domain

import (
	"strings"
	"testing"
	"time"
)

func TestUnsafeText(t *testing.T) {
	cases := []struct {
		name       string
		in         string
		line, long bool // true: refused
	}{
		{"plain", "Ada Lovelace", false, false},
		{"arabic and accents", "مريم Zoë", false, false},
		{"left-to-right mark is not an override", "a\u200eb", false, false},
		{"NUL", "Ada\x00", true, true},
		{"escape", "\x1b[31mred", true, true},
		{"DEL", "a\x7fb", true, true},
		{"C1 control", "a\u0085b", true, true},
		{"newline", "line one\nline two", true, false},
		{"tab", "a\tb", true, false},
		{"CR LF", "a\r\nb", true, false},
		{"lone CR", "a\rb", true, true},
		{"RLO override", "invoice\u202etxt.exe", true, true},
		{"LRE embedding", "\u202aa", true, true},
		{"FSI isolate", "a\u2068b", true, true},
		{"PDI", "a\u2069b", true, true},
		{"invalid UTF-8", "a\xffb", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := UnsafeLineText(c.in) != ""; got != c.line {
				t.Errorf("UnsafeLineText(%q) refused=%v, want %v", c.in, got, c.line)
			}
			if got := UnsafeLongText(c.in) != ""; got != c.long {
				t.Errorf("UnsafeLongText(%q) refused=%v, want %v", c.in, got, c.long)
			}
		})
	}
}

// Every path that writes a name, title or text goes through the domain's
// validation, so the rule is checked there for each kind of field.
func TestUnsafeTextRefusedInEveryField(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bad := "x\u202ey"
	fieldOf := func(t *testing.T, err error) map[string]string {
		t.Helper()
		ve, ok := err.(*ValidationError)
		if !ok {
			t.Fatalf("want *ValidationError, got %v", err)
		}
		return ve.Fields
	}
	t.Run("registration", func(t *testing.T) {
		err := ValidateRegistration(RegisterInput{Email: "a@b.example", Password: "password1", FullName: bad,
			Role: RoleDoctor, Subject: "Math\x00", IDNumber: "1\n2"})
		f := fieldOf(t, err)
		for _, k := range []string{"full_name", "subject", "id_number"} {
			if f[k] == "" {
				t.Errorf("%s not refused: %v", k, f)
			}
		}
	})
	t.Run("user patch", func(t *testing.T) {
		u := &User{ID: "u1", Role: RoleStudent, Active: true}
		_, err := u.Update(UserPatch{FullName: &bad})
		if fieldOf(t, err)["full_name"] == "" {
			t.Error("full_name not refused")
		}
	})
	t.Run("level", func(t *testing.T) {
		_, err := CreateLevel("l1", "Year\x001", now)
		if fieldOf(t, err)["name"] == "" {
			t.Error("name not refused")
		}
	})
	t.Run("exam and questions", func(t *testing.T) {
		q := QuestionInput{Text: "What\x1b?", Kind: KindSingle, Correct: []string{"a"},
			Choices: []Choice{{Text: "yes\u2066"}, {Text: "no"}}}
		_, err := validateDraft(ExamDraftInput{Title: "Final\nexam", Description: "ok\nfine\u202d", LevelID: "l1",
			Questions: []QuestionInput{q}}, func() string { return "q1" })
		f := fieldOf(t, err)
		for _, k := range []string{"title", "description", "questions[0].text", "questions[0].choices[0].text"} {
			if f[k] == "" {
				t.Errorf("%s not refused: %v", k, f)
			}
		}
	})
	t.Run("multi-line texts keep their newlines", func(t *testing.T) {
		q := QuestionInput{Text: "Line one\nline two\twith a tab", Kind: KindTrueFalse, Correct: []string{"true"}}
		if _, err := NormalizeQuestion(q, func() string { return "q1" }, ""); err != nil {
			t.Fatalf("a newline in a question text was refused: %v", err)
		}
		if strings.Contains(UnsafeLongText("a\r\nb"), "control") {
			t.Fatal("CR LF refused in a long text")
		}
	})
}
