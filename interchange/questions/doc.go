// Package questions reads and writes the question formats schools already
// keep their banks in: Moodle's GIFT, Aiken and Moodle XML, and IMS QTI 3.0
// and 2.1 (single items and content packages). It turns a file into the
// platform's domain.QuestionInput values, in file order, and back.
//
// It is a pure package (the standard library, domain, and
// golang.org/x/net/html to read HTML question text) at the top of the tree
// rather than under api/ or commands/: it belongs to neither side (the HTTP
// API and, through it, the web admin use it), and nothing here does I/O, so
// every parser is fuzzed and round-tripped without a server. Zip packages are
// opened by the caller (with internal/safezip, which bounds what they
// unpack to) and handed in as a Package.
//
// What a format can say and we cannot (essays, numeric and matching
// questions, partial credit on a single answer, several fully correct
// answers) is not an error of the file: such a question is returned as an
// Item with Unsupported set, so the caller can refuse the file or skip it.
// A file that is not what it claims (a GIFT block without its closing
// brace, XML that does not parse) is a *MalformedError.
//
// Scoring maps as follows. A single-answer question has exactly one answer
// worth 100%; its wrong answers may all carry the same penalty (a negative
// fraction f), which becomes negative_points = −f × points. A multiple-answer
// question has its correct answers worth equal shares of 100% (Moodle's
// 50%/50%, 33.333%…); wrong answers are scored by the platform's own rule
// (each wrong choice takes back one share, see ARCHITECTURE.md), which is
// also what we write on export (−100%/n each).
package questions
