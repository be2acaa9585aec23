package domain

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"time"
	"unicode/utf8"
)

// Fast decoding of attempt.answer_saved.v1, the event a regrade replays by
// the hundred thousand. encoding/json spends most of a fold's time in
// reflection; this scanner reads the one shape the payload has and hands
// everything else back to encoding/json.
//
// It accepts exactly:
//
//   - one JSON object holding each of the six fields attempt_id, exam_id,
//     student_id, question_id, choices and saved_at exactly once, keys
//     spelled exactly so (no escapes), in any order;
//   - JSON whitespace (space, tab, CR, LF) around any token, so a backend
//     that normalises payloads (PostgreSQL jsonb: ", " and ": ", keys
//     reordered) still takes the fast path;
//   - string values without escapes or control characters, valid UTF-8;
//   - choices as an array of such strings, or null (nil, as encoding/json
//     leaves it); [] gives an empty non-nil slice, as encoding/json does;
//   - saved_at as a string that time.Time.UnmarshalJSON accepts: the layout
//     YYYY-MM-DDTHH:MM:SS[.1-9 digits]Z is parsed here, anything else goes
//     to UnmarshalJSON itself (as encoding/json would call it).
//
// Anything else (unknown, missing or duplicate fields, other key case,
// escapes, null ids, numbers, trailing data, ...) returns ok=false and the
// caller falls back to encoding/json, so the result, when ok, is always what
// encoding/json.Unmarshal would produce (FuzzDecodeAnswerSavedFast checks it).

// span is a string value's bytes in the payload: data[start:end], quotes
// excluded.
type span struct{ start, end int }

const (
	fieldAttemptID = 1 << iota
	fieldExamID
	fieldStudentID
	fieldQuestionID
	fieldChoices
	fieldSavedAt
	allAnswerSavedFields = 1<<iota - 1
)

// decodeAnswerSavedFast decodes an AnswerSaved payload, or reports ok=false
// for anything it does not handle exactly (see above).
func decodeAnswerSavedFast(data []byte) (*AnswerSaved, bool) {
	var (
		ids         [4]span // attempt, exam, student, question
		savedAt     span
		choiceBuf   [8]span
		choices     = choiceBuf[:0]
		choicesNull bool
		seen        int
		total       int // bytes of all ids and choices
		ok          bool
	)
	i := skipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	i = skipJSONSpace(data, i+1)
	for {
		field, id, n := matchAnswerSavedKey(data[i:])
		if n == 0 {
			return nil, false
		}
		i = skipJSONSpace(data, i+n)
		if i >= len(data) || data[i] != ':' {
			return nil, false
		}
		i = skipJSONSpace(data, i+1)
		if seen&field != 0 {
			return nil, false
		}
		seen |= field
		switch field {
		case fieldChoices:
			if i < len(data) && data[i] == 'n' {
				if len(data)-i < 4 || string(data[i:i+4]) != "null" {
					return nil, false
				}
				choicesNull = true
				i += 4
				break
			}
			if i >= len(data) || data[i] != '[' {
				return nil, false
			}
			i = skipJSONSpace(data, i+1)
			if i < len(data) && data[i] == ']' {
				i++
				break
			}
			for {
				var s span
				if s, i, ok = scanJSONPlainString(data, i); !ok {
					return nil, false
				}
				choices = append(choices, s)
				total += s.end - s.start
				i = skipJSONSpace(data, i)
				if i >= len(data) {
					return nil, false
				}
				if data[i] == ']' {
					i++
					break
				}
				if data[i] != ',' {
					return nil, false
				}
				i = skipJSONSpace(data, i+1)
			}
		case fieldSavedAt:
			if savedAt, i, ok = scanJSONPlainString(data, i); !ok {
				return nil, false
			}
		default:
			if ids[id], i, ok = scanJSONPlainString(data, i); !ok {
				return nil, false
			}
			total += ids[id].end - ids[id].start
		}
		i = skipJSONSpace(data, i)
		if i >= len(data) {
			return nil, false
		}
		if data[i] == '}' {
			i++
			break
		}
		if data[i] != ',' {
			return nil, false
		}
		i = skipJSONSpace(data, i+1)
	}
	if seen != allAnswerSavedFields || skipJSONSpace(data, i) != len(data) {
		return nil, false
	}

	at, ok := parseRFC3339UTC(data[savedAt.start:savedAt.end])
	if !ok {
		// Not the layout parsed here: ask time.Time itself, on the quoted
		// literal, exactly as encoding/json does.
		if err := at.UnmarshalJSON(data[savedAt.start-1 : savedAt.end+1]); err != nil {
			return nil, false
		}
	}

	// One backing string for all ids and choices (one allocation instead of
	// one per string): they live and die together in the attempt's
	// history anyway.
	var sb strings.Builder
	sb.Grow(total)
	for _, s := range ids {
		sb.Write(data[s.start:s.end])
	}
	for _, s := range choices {
		sb.Write(data[s.start:s.end])
	}
	all := sb.String()
	cut := func(s span) string {
		n := s.end - s.start
		out := all[:n]
		all = all[n:]
		return out
	}

	p := &AnswerSaved{
		AttemptID:  cut(ids[0]),
		ExamID:     cut(ids[1]),
		StudentID:  cut(ids[2]),
		QuestionID: cut(ids[3]),
		SavedAt:    at,
	}
	if !choicesNull { // encoding/json leaves null nil, makes [] empty non-nil
		p.Choices = make([]string, len(choices))
		for k, s := range choices {
			p.Choices[k] = cut(s)
		}
	}
	return p, true
}

func skipJSONSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanJSONPlainString reads the JSON string starting at data[i] and returns
// its contents' span and the index after the closing quote. It refuses
// (ok=false) escapes, control characters and invalid UTF-8, so the contents
// are the decoded string byte for byte.
func scanJSONPlainString(data []byte, i int) (s span, next int, ok bool) {
	if i >= len(data) || data[i] != '"' {
		return span{}, 0, false
	}
	start := i + 1
	// Eight bytes at a time up to the first one that is not plain ASCII:
	// the closing quote, usually.
	for j := start; j+8 <= len(data); j += 8 {
		m := swarNotPlain(binary.LittleEndian.Uint64(data[j:]))
		if m == 0 {
			continue
		}
		j += bits.TrailingZeros64(m) >> 3
		switch c := data[j]; {
		case c == '"':
			return span{start, j}, j + 1, true
		case c >= utf8.RuneSelf:
			return scanJSONStringTail(data, start, j)
		default: // backslash or control character
			return span{}, 0, false
		}
	}
	return scanJSONStringTail(data, start, start)
}

// scanJSONStringTail finishes scanJSONPlainString byte by byte from
// data[j], for the last few bytes of the input and for non-ASCII text.
func scanJSONStringTail(data []byte, start, j int) (s span, next int, ok bool) {
	ascii := true
	for ; j < len(data); j++ {
		c := data[j]
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(data[start:j]) {
				return span{}, 0, false
			}
			return span{start, j}, j + 1, true
		case c == '\\' || c < 0x20:
			return span{}, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return span{}, 0, false
}

// swarNotPlain flags, in the high bit of each byte, the bytes of x (eight
// bytes, little-endian) that are a quote, a backslash, a control character
// or not ASCII. The lowest flag is exact; flags above it may be spurious.
// ("Bit Twiddling Hacks": a byte b < n, for n <= 0x80, borrows into its
// high bit in (x - n*ones) &^ x; b == v is b^v < 1.)
func swarNotPlain(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)&^x | (quote-ones)&^quote | (backslash-ones)&^backslash | x) & highs
}

// matchAnswerSavedKey matches the quoted key at the start of b against the
// six fields, spelled exactly; n is the length of the quoted key, 0 for
// anything else. id indexes the four ids (-1 for choices and saved_at).
func matchAnswerSavedKey(b []byte) (field, id, n int) {
	const shortest = len(`"exam_id"`)
	if len(b) < shortest {
		return 0, 0, 0
	}
	var rest string // what follows the first eight bytes
	switch binary.LittleEndian.Uint64(b) {
	case le8(`"attempt`):
		rest, field, id = `_id"`, fieldAttemptID, 0
	case le8(`"exam_id`):
		rest, field, id = `"`, fieldExamID, 1
	case le8(`"student`):
		rest, field, id = `_id"`, fieldStudentID, 2
	case le8(`"questio`):
		rest, field, id = `n_id"`, fieldQuestionID, 3
	case le8(`"choices`):
		rest, field, id = `"`, fieldChoices, -1
	case le8(`"saved_a`):
		rest, field, id = `t"`, fieldSavedAt, -1
	default:
		return 0, 0, 0
	}
	if len(b) < 8+len(rest) || string(b[8:8+len(rest)]) != rest {
		return 0, 0, 0
	}
	return field, id, 8 + len(rest)
}

// le8 is the little-endian uint64 of an eight-byte string, a constant
// expression once inlined.
func le8(s string) uint64 {
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// parseRFC3339UTC parses YYYY-MM-DDTHH:MM:SS[.fraction]Z with 1 to 9
// fraction digits and in-range fields, as time.Time.UnmarshalJSON would (in
// UTC). Anything else, valid or not, reports ok=false.
func parseRFC3339UTC(b []byte) (time.Time, bool) {
	const base = len("2006-01-02T15:04:05")
	if len(b) < base+1 || b[len(b)-1] != 'Z' ||
		b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	bad := false
	d2 := func(i int) int {
		x, y := b[i]-'0', b[i+1]-'0' // a non-digit wraps past 9
		if x > 9 || y > 9 {
			bad = true
		}
		return int(x)*10 + int(y)
	}
	year := d2(0)*100 + d2(2)
	month, day := d2(5), d2(8)
	hour, minute, sec := d2(11), d2(14), d2(17)
	if bad || month < 1 || month > 12 || day < 1 || day > daysInMonth(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := b[base : len(b)-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		for _, c := range frac[1:] {
			c -= '0'
			if c > 9 {
				return time.Time{}, false
			}
			nsec = nsec*10 + int(c)
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	// Seconds since 1970 of the civil date (H. Hinnant's days_from_civil),
	// then what time.Date(..., time.UTC) returns, without its normalisation
	// and zone lookup.
	y := year
	if month <= 2 {
		y--
	}
	era := (y + 400) / 400 // y >= -1: shifted one era up to divide positive
	yoe := y + 400 - era*400
	doy := (153*((month+9)%12)+2)/5 + day - 1
	days := int64(era-1)*146097 + int64(yoe*365+yoe/4-yoe/100+doy) - 719468
	return time.Unix(days*86400+int64(hour*3600+minute*60+sec), int64(nsec)).UTC(), true
}

func daysInMonth(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
