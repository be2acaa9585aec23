package domain

import (
	"unicode/utf8"
)

// Texts people type are shown to other people: a student's name on a
// doctor's monitor, a question to every student of a level. Control
// characters (a NUL cuts a C string short, an escape sequence repaints a
// terminal) and bidirectional overrides (which make "txt.exe" read as
// "exe.txt" or reorder a question's words) have no honest use in them, so
// they are refused at the one place every write path passes: the domain's
// validation.

// reasonUnsafeText is the reason a field with such characters gets.
const reasonUnsafeText = "must not contain control characters or bidirectional overrides"

// UnsafeLineText reports why s cannot be a one-line text (a name, a title,
// a subject, an id number): "" when it can. Every C0 and C1 control
// character is refused (tab and newline too), as are DEL, the bidirectional
// embeddings and overrides U+202A–U+202E and the isolates U+2066–U+2069,
// and invalid UTF-8.
func UnsafeLineText(s string) string { return unsafeText(s, false) }

// UnsafeLongText is UnsafeLineText for multi-line texts (descriptions,
// question and choice texts): newlines (LF, or CR LF) and tabs are allowed.
func UnsafeLongText(s string) string { return unsafeText(s, true) }

func unsafeText(s string, long bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for i, r := range s {
		switch {
		case long && (r == '\n' || r == '\t'):
		case long && r == '\r' && i+1 < len(s) && s[i+1] == '\n':
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			return reasonUnsafeText
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return reasonUnsafeText
		}
	}
	return ""
}

// checkText records the reason for field when s is unsafe.
func checkText(fields map[string]string, field, s string, long bool) {
	if _, taken := fields[field]; taken {
		return
	}
	if msg := unsafeText(s, long); msg != "" {
		fields[field] = msg
	}
}
