package questions

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/examhall/exam/domain"
)

// GIFT is Moodle's text format (docs.moodle.org/en/GIFT_format). There is
// no well-kept Go parser of it (the maintained ones are Moodle's own PHP and
// the gift-pegjs grammar), and the subset we can represent is small and
// line-oriented: questions are blocks separated by blank lines, "//" lines
// are comments, "$CATEGORY:" lines are ignored, and a question is
// [::title::] [[format]] text { answers } [text]. So this is a hand-written
// scanner that honours the format's escapes (\~ \= \# \{ \} \: \\ and \n)
// everywhere, fuzzed and round-tripped in the tests.
//
// What we read: multiple choice with "=" (right) and "~" (wrong) answers,
// %n% weights (several positive weights: a multiple-answer question; a
// negative weight on wrong answers: a penalty), true/false ({T} {F} {TRUE}
// {FALSE}), "missing word" questions (text after the answers: the gap is
// shown as _____), [html] texts (tags stripped, entities decoded); answer
// feedback after "#" is dropped. Essays ({}), numeric ({#…}), short answer
// (only "=" answers) and matching (->) questions are unsupported.
//
// GIFT has no points. The export writes them in a comment line before the
// question, "// examhall: points=2 negative_points=0.5" (Moodle ignores
// comments, so the file stays standard GIFT), and the import reads it back.

const giftMeta = "// examhall:"

// ParseGIFT reads a GIFT file.
func ParseGIFT(data []byte) ([]Item, error) {
	if !utf8.Valid(data) {
		return nil, malformed(GIFT, 0, "is not UTF-8 text")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n"), "\n")
	var items []Item
	var block []string
	start := 0
	var meta, pending string
	flush := func() error {
		if len(block) == 0 {
			return nil
		}
		it, err := parseGIFTQuestion(strings.Join(block, "\n"), start, meta)
		block, meta = nil, ""
		if err != nil {
			return err
		}
		if it != nil {
			items = append(items, *it)
		}
		if len(items) > MaxItems {
			return malformed(GIFT, start, "holds more than %d questions", MaxItems)
		}
		return nil
	}
	for i, line := range lines {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, giftMeta):
			pending = strings.TrimSpace(strings.TrimPrefix(t, giftMeta))
		case strings.HasPrefix(t, "//"):
		case strings.HasPrefix(t, "$CATEGORY:"):
			if err := flush(); err != nil {
				return nil, err
			}
		case t == "":
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			if len(block) == 0 {
				start, meta, pending = i+1, pending, ""
			}
			block = append(block, line)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return finish(GIFT, items)
}

// indexUnescaped is the byte offset of the first sub in s at or after from
// that is not escaped by a backslash, or -1.
func indexUnescaped(s, sub string, from int) int {
	for i := from; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if strings.HasPrefix(s[i:], sub) {
			return i
		}
	}
	return -1
}

// giftUnescape undoes the format's escapes.
func giftUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch c := s[i+1]; c {
			case '~', '=', '#', '{', '}', ':', '\\':
				b.WriteByte(c)
				i++
				continue
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseGIFTQuestion reads one block; nil for a block that holds nothing.
func parseGIFTQuestion(s string, line int, meta string) (*Item, error) {
	s = strings.TrimSpace(s)
	it := &Item{}
	if strings.HasPrefix(s, "::") {
		end := indexUnescaped(s, "::", 2)
		if end < 0 {
			return nil, malformed(GIFT, line, "the title's :: has no closing ::")
		}
		it.Title = cleanLine(giftUnescape(s[2:end]))
		s = strings.TrimSpace(s[end+2:])
	}
	html := false
	if strings.HasPrefix(s, "[") {
		if end := strings.IndexByte(s, ']'); end > 0 {
			switch strings.ToLower(s[1:end]) {
			case "html":
				html = true
				fallthrough
			case "moodle", "plain", "markdown":
				s = strings.TrimSpace(s[end+1:])
			}
		}
	}
	open := indexUnescaped(s, "{", 0)
	if open < 0 {
		if it.Title == "" && s == "" {
			return nil, nil
		}
		it.Question.Text = giftText(s, html)
		it.Unsupported = "is a description, not a question (it has no { } answers)"
		return it, nil
	}
	closing := indexUnescaped(s, "}", open+1)
	if closing < 0 {
		return nil, malformed(GIFT, line, "the answers' { has no closing }")
	}
	if j := indexUnescaped(s, "{", open+1); j >= 0 && j < closing {
		return nil, malformed(GIFT, line, "a { inside the answers must be escaped as \\{")
	}
	before, body, after := s[:open], s[open+1:closing], s[closing+1:]
	if indexUnescaped(after, "{", 0) >= 0 {
		it.Question.Text = giftText(before, html)
		it.Unsupported = "has more than one { } answer block"
		return it, nil
	}
	if indexUnescaped(after, "}", 0) >= 0 {
		return nil, malformed(GIFT, line, "a } outside the answers must be escaped as \\}")
	}
	text := before
	if strings.TrimSpace(after) != "" {
		text = strings.TrimRight(before, " \t") + " _____ " + strings.TrimLeft(after, " \t")
	}
	it.Question.Text = giftText(text, html)

	points, negative, multiple, err := giftPoints(meta)
	if err != nil {
		return nil, malformed(GIFT, line-1, "%s", err.Error())
	}
	body = strings.TrimSpace(body)
	switch tf := strings.ToUpper(strings.TrimSpace(cutUnescaped(body, "#"))); {
	case body == "":
		it.Unsupported = "is an essay question (its { } is empty)"
		return it, nil
	case strings.HasPrefix(body, "#"):
		it.Unsupported = "is a numeric question"
		return it, nil
	case tf == "T" || tf == "TRUE" || tf == "F" || tf == "FALSE":
		it.Question = trueFalse(it.Question.Text, tf[0] == 'T', points)
		it.Question.NegativePoints = negative
		return it, nil
	}
	answers, hasWrong, err := giftAnswers(body, line)
	if err != nil {
		return nil, err
	}
	// Matching questions are "=" answers that all pair with "->"; an
	// arrow in a multiple-choice answer is only text.
	matching := !hasWrong
	for _, a := range answers {
		matching = matching && indexUnescaped(a.text, "->", 0) >= 0
	}
	if matching {
		it.Unsupported = "is a matching question"
		return it, nil
	}
	if !hasWrong {
		it.Unsupported = "is a short-answer question (its answers are typed, not chosen)"
		return it, nil
	}
	for i := range answers {
		answers[i].text = giftText(cutUnescaped(answers[i].text, "#"), html)
		answers[i].text = strings.Join(strings.Fields(answers[i].text), " ")
	}
	q, reason := fromAnswers(it.Question.Text, answers, points, multiple)
	it.Question, it.Unsupported = q, reason
	if negative != nil {
		it.Question.NegativePoints = negative
	}
	return it, nil
}

// cutUnescaped is s up to its first unescaped sep (feedback follows "#").
func cutUnescaped(s, sep string) string {
	if i := indexUnescaped(s, sep, 0); i >= 0 {
		return s[:i]
	}
	return s
}

func giftText(s string, html bool) string {
	s = giftUnescape(s)
	if html {
		return htmlToText(s)
	}
	return cleanText(s)
}

// giftAnswers splits an answer block at its unescaped = and ~ markers.
func giftAnswers(body string, line int) ([]answer, bool, error) {
	var out []answer
	hasWrong := false
	i := 0
	for i < len(body) {
		c := body[i]
		if c != '=' && c != '~' {
			if strings.TrimSpace(body[i:i+1]) != "" {
				return nil, false, malformed(GIFT, line, "the answers must start with = or ~, not %q", firstRune(body[i:]))
			}
			i++
			continue
		}
		end := len(body)
		for j := i + 1; j < len(body); j++ {
			if body[j] == '\\' {
				j++
				continue
			}
			if body[j] == '=' || body[j] == '~' {
				// "->" of matching questions is not a marker.
				if body[j] == '=' && j > 0 && body[j-1] == '-' {
					continue
				}
				end = j
				break
			}
		}
		a := answer{text: strings.TrimSpace(body[i+1 : end])}
		if c == '=' {
			a.fraction = 100
		} else {
			hasWrong = true
		}
		if strings.HasPrefix(a.text, "%") {
			close := strings.IndexByte(a.text[1:], '%')
			if close < 0 {
				return nil, false, malformed(GIFT, line, "an answer's weight %%…%% has no closing %%")
			}
			w, err := strconv.ParseFloat(strings.TrimSpace(a.text[1:1+close]), 64)
			if err != nil || w != w {
				return nil, false, malformed(GIFT, line, "an answer's weight %q is not a number", a.text[1:1+close])
			}
			a.fraction = w
			a.text = strings.TrimSpace(a.text[close+2:])
		}
		out = append(out, a)
		if len(out) > domain.MaxChoices*4 {
			return nil, false, malformed(GIFT, line, "a question has more than %d answers", domain.MaxChoices*4)
		}
		i = end
	}
	return out, hasWrong, nil
}

func firstRune(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	return string(r)
}

// giftPoints reads our comment "points=2 negative_points=0.5
// kind=multiple" (the kind only for a multiple-answer question with one
// right answer, which GIFT's weights cannot tell from a single-answer one).
func giftPoints(meta string) (float64, *float64, bool, error) {
	points := float64(domain.DefaultPoints)
	var negative *float64
	multiple := false
	for _, f := range strings.Fields(meta) {
		k, v, _ := strings.Cut(f, "=")
		if k == "kind" && v == "multiple" {
			multiple = true
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || (k != "points" && k != "negative_points") {
			return 0, nil, false, errors.New("the examhall comment must read points=<n> negative_points=<n> kind=multiple")
		}
		if k == "points" {
			points = n
		} else {
			negative = &n
		}
	}
	return points, negative, multiple, nil
}
