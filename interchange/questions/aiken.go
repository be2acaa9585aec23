package questions

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/examhall/exam/domain"
)

// Aiken is Moodle's simplest format (docs.moodle.org/en/Aiken_format): a
// question's text, its options each on a line starting with a capital
// letter and "." or ")", and a line "ANSWER: <letter>". Only single-answer
// questions exist in it, and no points: every question is worth the
// default. A text may run over several lines (Moodle wants one; we are
// lenient on input and write one, with newlines as spaces, on output).

// ParseAiken reads an Aiken file.
func ParseAiken(data []byte) ([]Item, error) {
	if !utf8.Valid(data) {
		return nil, malformed(Aiken, 0, "is not UTF-8 text")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n"), "\n")
	var items []Item
	var text []string
	var opts []answer
	start := 0
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		if rest, ok := cutAnswerLine(line); ok {
			if len(text) == 0 {
				return nil, malformed(Aiken, n, "ANSWER: without a question before it")
			}
			if len(opts) < 2 {
				return nil, malformed(Aiken, n, "the question needs at least two options (lines like \"A. text\")")
			}
			letter := strings.TrimSpace(rest)
			pos := -1
			if len(letter) == 1 {
				pos = int(letter[0]) - 'A'
			}
			if pos < 0 || pos >= len(opts) {
				return nil, malformed(Aiken, n, "ANSWER: %q is not the letter of one of the options", letter)
			}
			opts[pos].fraction = 100
			q, reason := fromAnswers(cleanText(strings.Join(text, "\n")), opts, domain.DefaultPoints, false)
			items = append(items, Item{Question: q, Unsupported: reason})
			if len(items) > MaxItems {
				return nil, malformed(Aiken, n, "holds more than %d questions", MaxItems)
			}
			text, opts = nil, nil
			continue
		}
		if letter, rest, ok := optionLine(line); ok && len(text) > 0 {
			if int(letter-'A') != len(opts) {
				return nil, malformed(Aiken, n, "option %c. comes out of order (expected %c.)", letter, 'A'+len(opts))
			}
			opts = append(opts, answer{text: cleanLine(rest)})
			continue
		}
		if len(opts) > 0 {
			return nil, malformed(Aiken, n, "expected another option or the ANSWER: line")
		}
		if len(text) == 0 {
			start = n
		}
		text = append(text, line)
	}
	if len(text) > 0 {
		return nil, malformed(Aiken, start, "the question has no ANSWER: line")
	}
	return finish(Aiken, items)
}

func cutAnswerLine(line string) (string, bool) {
	if len(line) < 7 || !strings.EqualFold(line[:6], "ANSWER") {
		return "", false
	}
	rest := strings.TrimLeft(line[6:], " \t")
	if !strings.HasPrefix(rest, ":") {
		return "", false
	}
	return rest[1:], true
}

// optionLine reads "A. text" or "A) text".
func optionLine(line string) (byte, string, bool) {
	if len(line) < 3 || line[0] < 'A' || line[0] > 'Z' || (line[1] != '.' && line[1] != ')') || (line[2] != ' ' && line[2] != '\t') {
		return 0, "", false
	}
	return line[0], strings.TrimSpace(line[3:]), true
}
